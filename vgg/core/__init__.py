"""Foundations: settings, one-sentence errors, atomic files, locks, project paths, cost estimates and a run's phases
(no TensorFlow)."""
