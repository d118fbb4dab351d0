"""Run folders: status, metrics and diagnostics records, model records, the queue, disk budgets (no TensorFlow)."""
