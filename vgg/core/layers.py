"""VGG's layers from its settings alone (no TensorFlow): the model builder makes exactly these, the cost estimates
count them, and every page names them alike (keras.applications.VGG16's `block3_conv2`)."""

import dataclasses

from vgg.core.cifar10 import IMAGE_SIZE
from vgg.core.config import BLOCK_CHANNELS

BLOCKS = (1, 2, 3, 4, 5)  # Each ends in a 2x2 pooling: a 32x32 image is 1x1 after the fifth.
PAPER_HIDDEN = 4096  # Each of the paper's two Dense layers.


@dataclasses.dataclass(frozen=True)
class Conv:
    """One 3x3 conv layer of the plan, with the channels it takes and gives and the side of its maps."""

    block: int
    index: int  # 1 for the block's first conv.
    in_channels: int
    channels: int
    size: int
    ends_block: bool  # A 2x2 pooling follows it.

    @property
    def name(self):
        return conv_name(self.block, self.index)


def conv_name(block, index):
    return f"block{block}_conv{index}"


def batch_norm_name(conv):
    """The batch norm after a conv layer (named like `block3_conv2`), in a model that has them."""
    return conv.replace("_conv", "_bn")


def relu_name(conv):
    """The ReLU after a conv layer in a model with batch norm (without it, the conv holds its own ReLU)."""
    return conv.replace("_conv", "_relu")


def conv_of(activation):
    """The conv layer a ReLU or batch norm follows (`block3_relu2` -> `block3_conv2`)."""
    return activation.replace("_relu", "_conv").replace("_bn", "_conv")


def pool_name(block):
    return f"block{block}_pool"


def convs(variant, width):
    """The conv layers of a VGG `variant` (a column of the paper's Table 1) at `width` times its channels."""
    plan, channels, size = [], 3, IMAGE_SIZE
    for block, block_channels in zip(BLOCKS, BLOCK_CHANNELS[variant], strict=True):
        for index, full_width in enumerate(block_channels, start=1):
            out = max(1, round(full_width * width))
            plan.append(Conv(block, index, channels, out, size, index == len(block_channels)))
            channels = out
        size //= 2
    return plan


def hidden_sizes(head, features):
    """The Dense layers between the flattened block 5 (`features` wide) and the classes."""
    return {"paper": (PAPER_HIDDEN, PAPER_HIDDEN), "small": (features,), "linear": ()}[head]
