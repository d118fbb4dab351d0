"""Teaching a class: class mode's limits, starting runs, the doctor, experiments and replays (no TensorFlow)."""
