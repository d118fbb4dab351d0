"""A first conv layer fixed to whiten the training images' 3x3 patches, as airbench's first layer does.

The layer's filters are the patches' principal directions, each scaled to unit variance and kept in both
signs (so the ReLU after it keeps the information on either side), and they do not train: from the first
step, block 1's second conv sees decorrelated inputs, which the network would otherwise take epochs to learn.
"""

import numpy as np

from vgg.core.cifar10 import MEAN, STD

FIRST_CONV = "block1_conv1"
PATCH = 3
PATCH_IMAGES = 5000  # Enough patches (4.5 million) for a stable 27x27 covariance; a second on a CPU.
CHUNK_IMAGES = 250
EPSILON = 5e-4  # Keeps the faintest directions from being scaled up into noise (airbench's value).


def patch_covariance(images, seed=0):
    """(eigenvalues, eigenvectors) of the covariance of standardized 3x3x3 patches, largest first; each
    eigenvector in the (row, column, channel) order of a Keras kernel."""
    rng = np.random.default_rng(seed)
    chosen = images[rng.permutation(len(images))[:PATCH_IMAGES]]
    size = PATCH * PATCH * chosen.shape[-1]
    total, outer, count = np.zeros(size), np.zeros((size, size)), 0
    # In chunks: all 4.5 million patches at once would take half a gigabyte.
    for start in range(0, len(chosen), CHUNK_IMAGES):
        pixels = (chosen[start : start + CHUNK_IMAGES].astype(np.float32) / 255 - np.float32(MEAN)) / np.float32(STD)
        windows = np.lib.stride_tricks.sliding_window_view(pixels, (PATCH, PATCH), axis=(1, 2))
        # (N, rows, columns, channel, dy, dx) -> rows of (dy, dx, channel), the kernel's own order.
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, size)
        total += patches.sum(axis=0, dtype=np.float64)
        outer += (patches.T @ patches).astype(np.float64)
        count += len(patches)
    mean = total / count
    values, vectors = np.linalg.eigh(outer / count - np.outer(mean, mean))
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def whitening_kernel(images, filters, seed=0):
    """A (3, 3, 3, filters) kernel: the top filters // 2 whitened directions and their negatives (a lone
    last filter, when `filters` is odd, takes the next direction)."""
    if filters < 2:
        raise ValueError(f"A whitening layer needs at least 2 filters. Received: filters={filters}")
    values, vectors = patch_covariance(images, seed)
    scaled = vectors / np.sqrt(values + EPSILON)
    half = min(filters // 2, scaled.shape[1])
    columns = [scaled[:, :half], -scaled[:, :half]]
    extra = filters - 2 * half
    columns.append(scaled[:, half : half + extra] if extra else scaled[:, :0])
    kernel = np.concatenate(columns, axis=1)
    if kernel.shape[1] < filters:  # More filters than twice the patch's 27 directions: repeat from the top.
        kernel = np.resize(kernel.T, (filters, kernel.shape[0])).T
    return kernel.reshape(PATCH, PATCH, -1, filters).astype(np.float32)


def whiten_first_layer(model, images, seed=0):
    """Sets the first conv layer's kernel to whiten `images`' patches and freezes it (before compiling)."""
    layer = model.get_layer(FIRST_CONV)
    kernel = whitening_kernel(images, layer.filters, seed)
    layer.kernel.assign(kernel)
    layer.trainable = False
