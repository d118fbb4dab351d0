"""Foundations: settings, one-sentence errors, atomic files, locks, project paths, cost estimates (no TensorFlow)."""
