"""Starts a VGG from a trained one's weights, widening it when the new model has more channels.

Widening follows Net2WiderNet (Chen, Goodfellow & Shlens, 2016): each new channel copies an
existing one, and the next layer splits the copied channel's outgoing weights between its copies,
so the wider model computes exactly what the trained one did. The split is random rather than
even: two copies with equal outgoing weights would get equal gradients forever and stay copies.
"""

import numpy as np
from keras import layers

from vgg.core.errors import UserError


class WidenError(UserError):
    """A trained model whose weights cannot start this model; its message is one sentence."""


def _chain(model):
    """The conv and Dense layers in order, each with the batch norm that follows it (or None)."""
    chain = []
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.Dense)):
            chain.append([layer, None])
        elif isinstance(layer, layers.BatchNormalization) and chain:
            chain[-1][1] = layer
    return chain


def _standardizes(model):
    # The standardizing layer has no weights to compare, so its presence is checked by name.
    return any(layer.name == "standardize" for layer in model.layers)


def _channel_map(old_channels, new_channels, rng):
    """For each new channel, the old channel it copies, and its share of that channel's outgoing weights."""
    sources = np.concatenate([np.arange(old_channels), rng.integers(0, old_channels, new_channels - old_channels)])
    shares = rng.uniform(0.5, 1.5, new_channels)
    # The copies of one old channel share its outgoing weights: their shares sum to 1.
    shares /= np.bincount(sources, weights=shares, minlength=old_channels)[sources]
    return sources, shares


def transfer_weights(source, target, seed=0):
    """Sets `target`'s weights from the trained `source`: copied where the shapes match, widened
    where `target` has more channels. Raises WidenError when the two are not the same network."""
    source_chain, target_chain = _chain(source), _chain(target)
    names = [layer.name for layer, _ in target_chain]
    if [layer.name for layer, _ in source_chain] != names:
        raise WidenError(
            "The model to start from has different layers (another VGG variant or head); "
            "start from a model of the same kind."
        )
    if _standardizes(source) != _standardizes(target):
        raise WidenError(
            "The model to start from scales its input pixels differently (input_scaling); "
            "start from a model of the same kind."
        )
    source_weights, target_weights = source.get_weights(), target.get_weights()
    if len(source_weights) == len(target_weights) and all(
        old.shape == new.shape for old, new in zip(source_weights, target_weights, strict=True)
    ):
        target.set_weights(source_weights)
        return target
    rng = np.random.default_rng(seed)
    # The input's channels (RGB) are never widened.
    sources, shares, old_inputs = np.arange(3), np.ones(3), 3
    for (old_layer, old_norm), (new_layer, new_norm) in zip(source_chain, target_chain, strict=True):
        old_kernel, *old_rest = old_layer.get_weights()
        old_outputs, new_outputs = old_kernel.shape[-1], new_layer.get_weights()[0].shape[-1]
        if old_kernel.shape[-2] != old_inputs:
            # Only a 1x1 block 5 output flattens to one feature per channel, as 32x32 inputs give.
            raise WidenError(f"Layer {new_layer.name} cannot be widened: its input is not one feature per channel.")
        if new_outputs < old_outputs or (new_layer.name == "predictions" and new_outputs != old_outputs):
            raise WidenError(
                f"Layer {new_layer.name} has {new_outputs} outputs against {old_outputs} in the model to start from; "
                "a model can only start from one as wide or narrower, with the same classes."
            )
        if (old_norm is None) != (new_norm is None):
            raise WidenError(
                "One model has batch normalization and the other not; start from a model of the same kind."
            )
        # Each input channel of the new kernel reads the old channel it copies, scaled by its share.
        kernel = old_kernel[..., sources, :] * shares[:, None]
        if new_layer.name == "predictions":
            out_sources, out_shares = np.arange(new_outputs), np.ones(new_outputs)
        else:
            out_sources, out_shares = _channel_map(old_outputs, new_outputs, rng)
        new_layer.set_weights([kernel[..., out_sources]] + [weight[out_sources] for weight in old_rest])
        if new_norm is not None:
            new_norm.set_weights([weight[out_sources] for weight in old_norm.get_weights()])
        sources, shares, old_inputs = out_sources, out_shares, old_outputs
    return target
