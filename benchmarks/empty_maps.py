"""How often each block's class map is empty, before and after vgg/attention.py, and what the maps cost.

    python benchmarks/empty_maps.py [--images 500] [--data-dir ../shared/cifar10] [--serving-threads]

On `--images` validation images (drawn with seed 0 from the split the shipped model is scored on, vgg.evaluation's
`split_for`), for the class the Predict page names (the mean over the image and its mirror):
- the share of empty maps (no cell above zero) per block 3, 4, 5 with the app's former Grad-CAM (gradient averaged
  over the grid, log-probability scored), with Grad-CAM scoring the logit, and with the cell-wise maps now shown;
- how alike the maps of the predicted class and of the runner-up are (Pearson correlation over cells, mean over the
  images where both have a spread), since a map that is the same whatever the class says nothing about the class;
- the milliseconds of the first call (tracing included) and the median of later calls, for the three blocks' maps
  and for the SmoothGrad saliency map, both for two classes as the Predict page asks.
Prints Markdown rows for BENCHMARKS.md.
"""

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vgg.attention import BLOCKS, AttentionMaps, is_empty  # noqa: E402
from vgg.data import load_cifar10  # noqa: E402
from vgg.evaluation import split_for  # noqa: E402
from vgg.inference import Predictor  # noqa: E402
from vgg.model_record import SHIPPED_MODEL  # noqa: E402

VARIANTS = {
    "before: Grad-CAM, log-probability (the app's former code)": dict(weighting="mean", score="log_probability"),
    "Grad-CAM, logit": dict(weighting="mean", score="logit"),
    "after: gradient x activation per cell, logit (shown now)": dict(weighting="cell", score="logit"),
}


def milliseconds(function):
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def timings(predictor, image, classes, calls=20):
    """{what: (first call ms, median later ms)} on a model no map has been computed with yet."""
    maps = AttentionMaps(predictor.model)
    rows = {}
    for name, function in (("three blocks' maps", lambda: maps.grids(image, classes)),
                           ("SmoothGrad saliency", lambda: maps.saliency(image, classes))):
        first = milliseconds(function)
        rows[name] = first, statistics.median(milliseconds(function) for _ in range(calls))
    return rows


def correlation(first, second):
    first, second = first.ravel(), second.ravel()
    if first.std() == 0 or second.std() == 0:
        return None
    return float(np.corrcoef(first, second)[0, 1])


def measure(predictor, images):
    """{variant: {block: (empty share, mean correlation of top-1 and top-2 maps)}}."""
    probabilities = predictor.probabilities(images)
    ranked = np.argsort(probabilities, axis=1)[:, ::-1]
    results = {}
    for variant, options in VARIANTS.items():
        maps = AttentionMaps(predictor.model, **options)
        empty = {block: 0 for block in BLOCKS}
        alike = {block: [] for block in BLOCKS}
        for image, order in zip(images, ranked, strict=True):
            grids, _ = maps.grids(image, order[:2])
            for block in BLOCKS:
                empty[block] += is_empty(grids[block][0])
                value = correlation(grids[block][0], grids[block][1])
                if value is not None:
                    alike[block].append(value)
        results[variant] = {block: (empty[block] / len(images), float(np.mean(alike[block])) if alike[block] else None)
                            for block in BLOCKS}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--data-dir", default="../shared/cifar10")
    parser.add_argument("--serving-threads", action="store_true", help="Limit TensorFlow as the web server does.")
    args = parser.parse_args()
    if args.serving_threads:
        from vgg.device import limit_serving_threads

        limit_serving_threads()
    validation_size, seed = split_for(SHIPPED_MODEL)
    dataset = load_cifar10(args.data_dir, validation_size=validation_size, seed=seed)
    chosen = np.random.default_rng(0).choice(len(dataset.y_val), size=min(args.images, len(dataset.y_val)),
                                             replace=False)
    images = dataset.x_val[chosen]
    predictor = Predictor.for_file(SHIPPED_MODEL, runs_dir="runs")
    top_two = np.argsort(predictor.probabilities(images[:1])[0])[::-1][:2]
    for what, (first, later) in timings(predictor, images[0], top_two).items():
        print(f"| {what}, two classes | first call {first:.0f} ms, later {later:.1f} ms (median of 20) |")
    print(f"\nOn {len(images)} validation images (split {validation_size}, seed {seed}):\n")
    print("| maps | " + " | ".join(f"block {block}: empty, top-1/top-2 correlation" for block in BLOCKS) + " |")
    for variant, blocks in measure(predictor, images).items():
        cells = [f"{empty:.1%}, {alike:.2f}" if alike is not None else f"{empty:.1%}, -"
                 for empty, alike in blocks.values()]
        print(f"| {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
