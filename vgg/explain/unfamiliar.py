"""How unlike its training photos an image is to a model, and the line past which Predict says its answer is a guess.

The top probability cannot tell: the shipped model calls a word on white paper a class at 80-90%. The distance to the
nearest training images can. Per compared block, an image's distance is one minus the mean cosine similarity of its
8 nearest indexed training images (vgg.explain.neighbours holds their unit-length pooled features). Block 2 sees
colours and textures, so drawings, text, screenshots and noise, which no photo looks like, are far there; block 5
sees the content, so a photo of something none of the classes resembles is far there.

The score is the larger of the two blocks' ranks among validation images: the share of them nearer to the training
images than this image is. The threshold is the score that 5% of the validation images exceed, so the flag is
wrong about 1 in 20 real CIFAR-10 images by construction. Both are computed when the index is built and saved with
it (the index's file is the one owner). benchmarks/unfamiliar.py measures how well it separates
tests/data/unfamiliar/ from validation images, against the top probability (BENCHMARKS.md).
"""

import dataclasses

import numpy as np

COMPARED_BLOCKS = (2, 5)
NEAREST = 8  # As many as the Nearest images view shows: one odd training image cannot make a picture familiar.
FLAGGED_SHARE = 0.05  # Of validation images, flagged by construction.
CALIBRATION_IMAGES = 2000  # Validation images ranked against: 100 beyond the threshold, a fifth of a build's cost.
CHUNK = 500  # Rows per product: 500 x 10,000 similarities at a time (20 MB) rather than all of them.


def unit(features):
    """`features` (N, C) scaled so that each row has length 1; all-zero rows stay zero."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    return features / np.where(norms > 0, norms, 1)


def nearest_distances(indexed, wanted, k=NEAREST):
    """(M,) one minus the mean cosine similarity of each of `wanted`'s (M, C) rows to its `k` nearest rows of
    `indexed` (N, C), which have length 1 already."""
    wanted = unit(np.asarray(wanted, dtype=np.float32).reshape(-1, indexed.shape[1]))
    count = min(k, len(indexed))
    distances = []
    for start in range(0, len(wanted), CHUNK):
        # einsum, as vgg.explain.neighbours.query: it keeps to this thread on a server whose cores are shared.
        similarities = np.einsum("nc,mc->mn", indexed, wanted[start : start + CHUNK])
        nearest = -np.partition(-similarities, count - 1, axis=1)[:, :count]
        distances.append(1 - nearest.mean(axis=1))
    return np.concatenate(distances) if distances else np.zeros(0, np.float32)


def block_distances(index_features, features):
    """Per compared block, (M,) distances of images with pooled `features` (per block 1 to 5, (M, C) or (C,)) to
    the indexed images with `index_features` (per block, (N, C) unit rows)."""
    return [nearest_distances(index_features[block - 1], features[block - 1]) for block in COMPARED_BLOCKS]


@dataclasses.dataclass(frozen=True, eq=False)
class Calibration:
    """Validation images' distances, sorted, per compared block, and the score that 5% of them exceed."""

    distances: tuple  # Per compared block, (M,) float32, ascending.
    threshold: float

    def __post_init__(self):
        for array in self.distances:
            array.flags.writeable = False

    def scores(self, distances):
        """(M,) the share of validation images nearer than each image, in whichever compared block it is rarer."""
        ranks = [
            np.searchsorted(known, np.asarray(mine), side="right") / len(known)
            for known, mine in zip(self.distances, distances, strict=True)
        ]
        return np.max(ranks, axis=0)


def calibrate(distances):
    """The Calibration from the validation images' distances, per compared block."""
    if not len(distances[0]):
        return None
    partial = Calibration(tuple(np.sort(np.asarray(block, np.float32)) for block in distances), 1.0)
    threshold = float(np.quantile(partial.scores(distances), 1 - FLAGGED_SHARE))
    return dataclasses.replace(partial, threshold=threshold)


@dataclasses.dataclass(frozen=True)
class Familiarity:
    score: float  # 0 (nearer to the training images than every validation image) to 1 (farther than all).
    threshold: float  # The score 5% of validation images exceed.

    @property
    def unfamiliar(self):
        return self.score > self.threshold


def familiarity(calibration, index_features, features):
    """An image's Familiarity from its pooled `features` (per block, (C,)), or None when nothing was calibrated."""
    if calibration is None:
        return None
    (score,) = calibration.scores(block_distances(index_features, features))
    return Familiarity(float(score), calibration.threshold)
