"""How often each block's class map is empty, before and after vgg/explain/attention.py, and what the maps cost.

    python benchmarks/empty_maps.py [--images 500] [--data-dir ../shared/cifar10] [--serving-threads]

(`--images 0` prints the timings only.)

On `--images` validation images (drawn with seed 0 from the split the shipped model is scored on,
vgg.explain.evaluation's `split_for`), for the class the Predict page names (the mean over the image and its mirror):
- the share of empty maps (no cell above zero) per block 3, 4, 5 with the app's former Grad-CAM (gradient averaged
  over the grid, log-probability scored), with Grad-CAM scoring the logit, and with the cell-wise maps now shown;
- how alike the maps of the predicted class and of the runner-up are (Pearson correlation over cells, mean over the
  images where both have a spread), since a map that is the same whatever the class says nothing about the class;
- how much the answer's probability drops when the quarter of the image a map marks strongest is greyed out (its
  mean colour), against a random quarter of the same cells: a map that points at the evidence makes a larger drop;
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

from vgg.data.cifar10 import load_cifar10  # noqa: E402
from vgg.explain.attention import BLOCKS, AttentionMaps, is_empty  # noqa: E402
from vgg.explain.evaluation import split_for  # noqa: E402
from vgg.explain.predictor import Predictor  # noqa: E402
from vgg.runs.record import SHIPPED_MODEL  # noqa: E402

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
    for name, function in (
        ("three blocks' maps", lambda: maps.grids(image, classes)),
        ("SmoothGrad saliency", lambda: maps.saliency(image, classes)),
    ):
        first = milliseconds(function)
        rows[name] = first, statistics.median(milliseconds(function) for _ in range(calls))
    return rows


def correlation(first, second):
    first, second = first.ravel(), second.ravel()
    if first.std() == 0 or second.std() == 0:
        return None
    return float(np.corrcoef(first, second)[0, 1])


def quarter_masks(grid, rng):
    """(mask of the map's strongest quarter of cells, mask of a random quarter), each (32, 32) bool; ties are
    broken at random, so an empty map removes a random quarter."""
    count = grid.size // 4
    strongest = np.lexsort((rng.random(grid.size), -grid.ravel()))[:count]
    masks = []
    for cells in (strongest, rng.permutation(grid.size)[:count]):
        mask = np.zeros(grid.size, bool)
        mask[cells] = True
        masks.append(np.kron(mask.reshape(grid.shape), np.ones((32 // grid.shape[0], 32 // grid.shape[1]), bool)))
    return masks


def deletion_drops(predictor, image, answer, maps, rng):
    """{map: (probability drop with its strongest quarter greyed out, drop with a random quarter greyed out)}."""
    masks = {name: quarter_masks(grid, rng) for name, grid in maps.items()}
    grey = image.reshape(-1, 3).mean(axis=0)
    batch = [image] + [np.where(mask[..., None], grey, image) for pair in masks.values() for mask in pair]
    probabilities = predictor.probabilities(np.stack(batch).astype(np.float32))[:, answer]
    drops = probabilities[0] - probabilities[1:]
    return {name: (drops[2 * index], drops[2 * index + 1]) for index, name in enumerate(masks)}


def measure(predictor, images):
    """{variant: {map: (empty share, mean top-1/top-2 correlation, mean drops (strongest, random quarter))}}."""
    probabilities = predictor.probabilities(images)
    ranked = np.argsort(probabilities, axis=1)[:, ::-1]
    results = {}
    for variant, options in VARIANTS.items():
        maps = AttentionMaps(predictor.model, **options)
        names = list(BLOCKS) + (["pixels"] if variant.startswith("after") else [])
        empty, alike, drops = ({name: [] for name in names} for _ in range(3))
        rng = np.random.default_rng(0)
        for image, order in zip(images, ranked, strict=True):
            grids, _ = maps.grids(image, order[:2])
            shown = {block: grids[block][0] for block in BLOCKS}
            if "pixels" in names:
                grids["pixels"] = maps.saliency(image, order[:2])
                # Greyed out by 4x4-pixel squares as block 3's cells are: scattered pixels would hurt any image more.
                shown["pixels"] = grids["pixels"][0].reshape(8, 4, 8, 4).mean(axis=(1, 3))
            for name in names:
                empty[name].append(is_empty(grids[name][0]))
                alike[name].append(correlation(grids[name][0], grids[name][1]))
            for name, pair in deletion_drops(predictor, image, order[0], shown, rng).items():
                drops[name].append(pair)
        results[variant] = {
            name: (
                np.mean(empty[name]),
                np.mean([v for v in alike[name] if v is not None]),
                np.mean(drops[name], axis=0),
            )
            for name in names
        }
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--data-dir", default="../shared/cifar10")
    parser.add_argument("--serving-threads", action="store_true", help="Limit TensorFlow as the web server does.")
    args = parser.parse_args()
    if args.serving_threads:
        from vgg.model.device import limit_serving_threads

        limit_serving_threads()
    validation_size, seed = split_for(SHIPPED_MODEL)
    dataset = load_cifar10(args.data_dir, validation_size=validation_size, seed=seed)
    chosen = np.random.default_rng(0).choice(
        len(dataset.y_val), size=min(max(args.images, 1), len(dataset.y_val)), replace=False
    )
    images = dataset.x_val[chosen]
    predictor = Predictor.for_file(SHIPPED_MODEL, runs_dir="runs")
    top_two = np.argsort(predictor.probabilities(images[:1])[0])[::-1][:2]
    for what, (first, later) in timings(predictor, images[0], top_two).items():
        print(f"| {what}, two classes | first call {first:.0f} ms, later {later:.1f} ms (median of 20) |")
    if not args.images:
        return
    print(f"\nOn {len(images)} validation images (split {validation_size}, seed {seed}):\n")
    print(
        "| maps | map | empty | top-1/top-2 correlation | probability drop, strongest quarter greyed | random quarter |"
    )
    for variant, rows in measure(predictor, images).items():
        for name, (empty, alike, (strongest, random)) in rows.items():
            where = f"block {name}" if name != "pixels" else "pixels (SmoothGrad)"
            print(f"| {variant} | {where} | {empty:.1%} | {alike:.2f} | {strongest:.1%} | {random:.1%} |")


if __name__ == "__main__":
    main()
