"""Look-ahead: every few steps the weights step back toward where they were at the last sync, more so as
training ends; airbench's way to get an averaged model's accuracy from a short run.

After each sync the weights equal the slow average, so the average needs no state beyond the last sync and
a resumed run simply starts syncing from its checkpoint's weights.
"""

import keras

SYNC_EVERY = 5  # Steps between syncs, as in airbench.
# The pull back toward the last sync, per sync, at the last step (airbench: 0.95 per step over 5 steps); it
# grows with the cube of the run's progress, so early training moves freely.
FINAL_DECAY = 0.95**SYNC_EVERY


class Lookahead(keras.callbacks.Callback):
    def __init__(self, total_steps, initial_step=0):
        super().__init__()
        self.total_steps = max(1, total_steps)
        self.step = initial_step
        self.slow = None

    def _variables(self):
        # Trainable weights and batch-norm statistics; integer state (seed generators) stays as it is.
        return [variable for variable in self.model.weights if variable.dtype.startswith("float")]

    def on_train_begin(self, logs=None):
        self.slow = [keras.ops.copy(variable.value) for variable in self._variables()]

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % SYNC_EVERY == 0 or self.step >= self.total_steps:
            self.sync(FINAL_DECAY * min(1.0, self.step / self.total_steps) ** 3)

    def sync(self, decay):
        """Moves the weights to `decay` x the last sync + (1 - decay) x the weights now, and remembers them."""
        for index, variable in enumerate(self._variables()):
            value = self.slow[index] * decay + variable.value * (1.0 - decay)
            variable.assign(value)
            self.slow[index] = keras.ops.copy(value)
