"""Foundations: settings, one-sentence errors, files, locks, paths, cost estimates, run phases (no TensorFlow)."""
