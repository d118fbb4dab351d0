"""Making a model: the trainer, optimizer, callbacks, the doctor's probes, snapshots, and export for shipping."""
