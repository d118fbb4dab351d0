"""Layer names: the block a layer belongs to, and its name for people. No Keras here, so pages can
name layers without loading TensorFlow."""


def block_of(layer_name):
    """The block number (1-5) of a layer named like `block3_conv2`, or None."""
    if layer_name.startswith("block") and "_" in layer_name:
        number = layer_name[len("block") : layer_name.index("_")]
        if number.isdigit():
            return int(number)
    return None


# How people call each kind of layer inside a block, by the part of its Keras name before the number.
LAYER_WORDS = {"conv": "conv", "relu": "ReLU", "bn": "batch norm", "pool": "pooled"}


# The head's layers, as the doctor's probes and the architecture name them.
HEAD_WORDS = {"fc1": "Dense layer 1", "fc2": "Dense layer 2", "predictions": "Output layer"}


def layer_label(layer_name):
    """A layer's name for people: `block3_conv2` -> "Block 3, conv 2", `block3_pool` -> "Block 3, pooled", a probed
    block `block3` -> "Block 3", `fc1` -> "Dense layer 1"; other names (`flatten`) are returned as they are."""
    if layer_name in HEAD_WORDS:
        return HEAD_WORDS[layer_name]
    number = layer_name.removeprefix("block")
    if number != layer_name and number.isdigit():
        return f"Block {number}"
    block = block_of(layer_name)
    if block is None:
        return layer_name
    part = layer_name[layer_name.index("_") + 1 :]
    kind = part.rstrip("0123456789")
    return f"Block {block}, {LAYER_WORDS.get(kind, kind)} {part[len(kind) :]}".rstrip()


def feature_stop_label(layer_name, height, width):
    """A feature-map layer's name for people with its grid size, "Block 3, conv 2 (8x8)": a ReLU's maps are
    named after the conv they come from, so that models with and without batch norm name the same stops alike."""
    return f"{layer_label(layer_name.replace('_relu', '_conv'))} ({height}x{width})"
