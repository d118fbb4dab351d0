"""Stochastic weight averaging (Izmailov et al., 2018): a running mean of the weights at epochs' ends."""

import keras
import numpy as np

from vgg.core.files import replacing
from vgg.runs.folder import RunError


class WeightAverager(keras.callbacks.Callback):
    """Keeps the running mean of the trainable weights at the end of each epoch from
    `average_from_epoch` on (stochastic weight averaging), saved beside the checkpoint so a
    resumed run goes on averaging. Runs before the Checkpointer: an epoch averaged but not
    checkpointed (a crash between the two saves) is trained again, not averaged twice."""

    def __init__(self, run, stopper, first_epoch):
        super().__init__()
        self.path = run.weight_average_path
        self.stopper = stopper
        self.first_epoch = first_epoch
        self.mean, self.count, self.last_epoch = None, 0, 0
        if self.path.exists():
            try:
                with np.load(self.path) as saved:
                    self.count, self.last_epoch = int(saved["count"]), int(saved["last_epoch"])
                    self.mean = [saved[f"weight_{index}"] for index in range(len(saved.files) - 2)]
            except (OSError, ValueError, KeyError) as error:
                raise RunError(
                    f"The weight average of run {run.name!r} cannot be read ({type(error).__name__}); delete "
                    f"{self.path.name} from its folder to resume with the average restarting at the next epoch."
                ) from None

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.mid_epoch or epoch + 1 < self.first_epoch or epoch + 1 <= self.last_epoch:
            return
        weights = [keras.ops.convert_to_numpy(weight).astype(np.float64) for weight in self.model.trainable_weights]
        self.count += 1
        if self.mean is None:
            self.mean = weights
        else:
            self.mean = [mean + (weight - mean) / self.count for mean, weight in zip(self.mean, weights, strict=False)]
        self.last_epoch = epoch + 1
        arrays = {f"weight_{index}": mean for index, mean in enumerate(self.mean)}
        with replacing(self.path, "the weight average") as temporary:
            np.savez(temporary, count=self.count, last_epoch=self.last_epoch, **arrays)

    def apply(self, model, train_data):
        """Puts the averaged weights into `model`, then recomputes its batch-norm statistics,
        which no average of weights gives: the averaged network's activations differ."""
        for weight, mean in zip(model.trainable_weights, self.mean, strict=False):
            weight.assign(mean.astype(weight.dtype))
        recompute_batch_norm_statistics(model, train_data)


def recompute_batch_norm_statistics(model, dataset):
    """One pass over `dataset` in training mode, with each batch-norm layer's moving statistics
    set to the plain mean over the pass's batches instead of an exponential one."""
    batch_norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batch_norms]
    for layer in batch_norms:
        layer.moving_mean.assign(keras.ops.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(keras.ops.ones_like(layer.moving_variance))
    try:
        for index, (images, _) in enumerate(dataset):
            # Momentum index/(index+1) makes the update a cumulative mean: batch k counts 1/(k+1).
            for layer in batch_norms:
                layer.momentum = index / (index + 1)
            model(images, training=True)
    finally:
        for layer, momentum in zip(batch_norms, momenta, strict=True):
            layer.momentum = momentum
