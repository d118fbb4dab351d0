"""The VGG family of Simonyan & Zisserman's Table 1, for 32x32 CIFAR-10 images.

Layer names follow `keras.applications.VGG16` (`block3_conv2`, `block5_pool`), so the app
finds the five blocks by name in any model this module builds.
"""

import keras
from keras import layers

from vgg.core.cifar10 import IMAGE_SIZE, MEAN, NUM_CLASSES, STD
from vgg.core.config import BLOCK_CHANNELS, HEADS, INPUT_SCALINGS, VARIANTS
from vgg.core.layers import BLOCKS, batch_norm_name, convs, hidden_sizes, pool_name, relu_name
from vgg.model.batch_norm import FusedBatchNormalization
from vgg.model.names import block_of


def build_vgg(
    variant="D",
    width=1.0,
    batch_norm=False,
    head="paper",
    dropout_rate=0.0,
    input_scaling="unit",
    num_classes=NUM_CLASSES,
    input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    name=None,
    fused_batch_norm=False,
    batch_norm_scale=True,
):
    """Builds a VGG network that takes raw pixels (0-255) and returns class probabilities.

    Args:
        variant: "A" (VGG11), "B" (VGG13), "D" (VGG16) or "E" (VGG19).
        width: multiplier on every conv layer's channel count.
        batch_norm: batch normalization between each conv and its ReLU.
        head: "paper" (Dense 4096-4096), "small" (one Dense layer as wide as block 5) or
            "linear" (straight to the classes).
        dropout_rate: dropout before each Dense layer of the head.
        input_scaling: "unit" divides pixels by 255; "standardize" also subtracts CIFAR-10's
            channel mean and divides by its standard deviation.
        fused_batch_norm: batch norms that train through TensorFlow's fused kernel (vgg/model/batch_norm.py).
        batch_norm_scale: batch norms learn a scale per channel; False keeps it at 1, only the shift learns.
    """
    _check_arguments(variant, width, head, input_scaling)
    batch_norm_layer = FusedBatchNormalization if fused_batch_norm else layers.BatchNormalization
    inputs = keras.Input(shape=input_shape, name="pixels")
    # Preprocessing lives inside the model so that a saved model takes raw pixels and
    # the app, the CLI and the trainer can never disagree about it.
    x = _preprocessing(inputs, input_scaling)

    for conv in convs(variant, width):
        if batch_norm:
            # The conv's bias would be cancelled by the batch norm's own shift.
            x = layers.Conv2D(conv.channels, 3, padding="same", use_bias=False, name=conv.name)(x)
            # Momentum 0.9 (PyTorch's default) rather than Keras' 0.99: the moving statistics
            # that validation uses settle within a few dozen steps, as short classroom runs need.
            x = batch_norm_layer(momentum=0.9, scale=batch_norm_scale, name=batch_norm_name(conv.name))(x)
            x = layers.ReLU(name=relu_name(conv.name))(x)
        else:
            x = layers.Conv2D(conv.channels, 3, padding="same", activation="relu", name=conv.name)(x)
        if conv.ends_block:
            x = layers.MaxPooling2D(2, strides=2, name=pool_name(conv.block))(x)

    outputs = _classifier(x, head, dropout_rate, num_classes)
    return keras.Model(inputs, outputs, name=name or f"{VARIANTS[variant].lower()}")


def _check_arguments(variant, width, head, input_scaling):
    if variant not in BLOCK_CHANNELS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}. Received: variant={variant!r}")
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}. Received: head={head!r}")
    if input_scaling not in INPUT_SCALINGS:
        raise ValueError(
            f"input_scaling must be one of {', '.join(INPUT_SCALINGS)}. Received: input_scaling={input_scaling!r}"
        )
    if not width > 0:
        raise ValueError(f"width must be positive. Received: width={width!r}")


def _preprocessing(inputs, input_scaling):
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    if input_scaling == "standardize":
        variance = [std**2 for std in STD]
        x = layers.Normalization(mean=MEAN, variance=variance, name="standardize")(x)
    return x


def _classifier(x, head, dropout_rate, num_classes):
    """The head on top of block 5: after five poolings a 32x32 image is 1x1, so flattening keeps every feature."""
    x = layers.Flatten(name="flatten")(x)
    hidden = hidden_sizes(head, x.shape[-1])
    for index, units in enumerate(hidden, start=1):
        x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"dropout{index}")(x)
    if dropout_rate and not hidden:
        x = layers.Dropout(dropout_rate, name="dropout")(x)
    # Softmax stays in float32 under mixed precision, where float16 would overflow.
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


def build_from_config(config, for_training=False):
    """The model `config` describes; `for_training` builds it to train fast (fused batch norms)."""
    return build_vgg(
        variant=config.variant,
        width=config.width,
        batch_norm=config.batch_norm,
        head=config.head,
        dropout_rate=config.dropout_rate,
        input_scaling=config.input_scaling,
        fused_batch_norm=for_training,
        batch_norm_scale=config.batch_norm_scale,
    )


def conv_layers(model):
    return [layer for layer in model.layers if isinstance(layer, layers.Conv2D) and block_of(layer.name)]


def pool_layer_names(model):
    """Names of the five blocks' pooling layers, in order."""
    return [layer.name for layer in model.layers if layer.name.endswith("_pool") and block_of(layer.name)]


def activation_layer_names(model):
    """Names of the layers whose outputs are each conv's feature maps after its ReLU, in order."""
    names = []
    layer_names = {layer.name for layer in model.layers}
    for conv in conv_layers(model):
        relu = relu_name(conv.name)
        names.append(relu if relu in layer_names else conv.name)
    return names


def describe(model):
    """Layers with their block, kind, output shape and parameter count, and the totals."""
    rows = []
    for layer in model.layers:
        shape = layer.output.shape if hasattr(layer, "output") else None
        rows.append(
            {
                "name": layer.name,
                "block": block_of(layer.name),
                "kind": keras_kind(layer),
                "output_shape": [None if dim is None else int(dim) for dim in shape] if shape is not None else None,
                "params": int(layer.count_params()),
            }
        )
    trainable = sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)
    return {
        "name": model.name,
        "layers": rows,
        "params": int(model.count_params()),
        "trainable_params": trainable,
        "conv_layers": len(conv_layers(model)),
    }


def keras_kind(layer):
    """The Keras class a layer is: a checkpoint's fused batch norm (vgg/model/batch_norm.py) is a BatchNormalization
    to whoever reads the model."""
    return next(kind.__name__ for kind in type(layer).__mro__ if kind.__module__.startswith("keras"))


def block_summaries(model):
    """Per block (1-5): its layers' rows from `describe`, conv count, output shape after its pooling
    (height, width, channels) and parameter total."""
    description = describe(model)
    blocks = []
    for block in BLOCKS:
        rows = [row for row in description["layers"] if row["block"] == block]
        if not rows:
            continue
        pooled = next(row["output_shape"] for row in rows if row["name"] == pool_name(block))
        blocks.append(
            {
                "block": block,
                "layers": rows,
                "convs": sum(row["kind"] == "Conv2D" for row in rows),
                "output_shape": tuple(pooled[1:]),
                "params": sum(row["params"] for row in rows),
            }
        )
    return blocks
