"""Times the first computation of each analysis the app saves per model file, and its read-back, on the
shipped model into a fresh cache: the evaluation behind Mistakes, 16 channels' pictures of a layer and the class
pictures behind Filters, and the top images per channel.

    python benchmarks/first_time_analyses.py --data-dir ../shared/cifar10 [--only evaluation|pictures|top-images]
        [--layer block3_conv2] [--serving-threads]
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vgg.data.cifar10 import CACHE_DIR_VARIABLE, load_cifar10  # noqa: E402
from vgg.explain.evaluation import DEFAULT_SPLIT, evaluation_key, evaluation_of, split_id  # noqa: E402
from vgg.explain.feature_vis import CLASSES, pictures_of  # noqa: E402
from vgg.explain.predictor import Predictor  # noqa: E402
from vgg.explain.top_images import cache_file, top_images_of  # noqa: E402
from vgg.model.build import activation_layer_names  # noqa: E402
from vgg.model.device import cpu_name, limit_serving_threads  # noqa: E402
from vgg.runs.record import SHIPPED_MODEL  # noqa: E402


def no_model():
    raise AssertionError("The saved analysis was not read back.")


def timed(compute):
    """(result, seconds) of compute()."""
    started = time.perf_counter()
    result = compute()
    return result, time.perf_counter() - started


def time_evaluation(dataset, predictor):
    key = evaluation_key(SHIPPED_MODEL, split_id(dataset, *DEFAULT_SPLIT))
    (evaluation, _), first = timed(lambda: evaluation_of(key, dataset, lambda: predictor.model, predictor.flip_average))
    _, later = timed(lambda: evaluation_of(key, dataset, no_model, predictor.flip_average))
    print(
        f"evaluation: {evaluation.images:,} images, accuracy {evaluation.accuracy:.4f} (flip average "
        f"{evaluation.flip_average}); first {first:.1f} s, read back {later * 1000:.0f} ms"
    )


def time_pictures(layer, model):
    for name in (layer, CLASSES):
        (pictures, _), first = timed(lambda name=name: pictures_of(SHIPPED_MODEL, name, lambda: model))
        _, later = timed(lambda name=name: pictures_of(SHIPPED_MODEL, name, no_model))
        print(
            f"pictures of {name}: {len(pictures.targets)} pictures: first {first:.1f} s (of which "
            f"{pictures.seconds:.1f} s ascent), read back {later * 1000:.0f} ms"
        )


def time_top_images(dataset, model):
    names = activation_layer_names(model)
    key = evaluation_key(SHIPPED_MODEL, split_id(dataset, *DEFAULT_SPLIT))
    (top, _), first = timed(lambda: top_images_of(key, names, dataset.x_val, lambda: model))
    _, later = timed(lambda: top_images_of(key, names, dataset.x_val, no_model))
    size = cache_file(key).stat().st_size
    print(
        f"top images: {top.images:,} images, {len(names)} layers: first pass {first:.1f} s "
        f"({top.images / first:.0f} images/s), read back {later * 1000:.0f} ms, saved {size / 1000:.0f} KB"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="The CIFAR-10 image folder (default: VGG_DATA_DIR).")
    parser.add_argument("--only", choices=("evaluation", "pictures", "top-images"), help="Time one analysis only.")
    parser.add_argument("--layer", default="block3_conv2", help="The conv layer to picture (default: block3_conv2).")
    parser.add_argument("--serving-threads", action="store_true", help="Limit TensorFlow as the web server does.")
    args = parser.parse_args()
    if args.serving_threads:
        limit_serving_threads()
    predictor = Predictor.for_file(SHIPPED_MODEL, "runs")
    wanted = {args.only} if args.only else {"evaluation", "pictures", "top-images"}
    dataset = load_cifar10(args.data_dir, *DEFAULT_SPLIT) if wanted - {"pictures"} else None
    print(f"{cpu_name()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        os.environ[CACHE_DIR_VARIABLE] = folder
        if "evaluation" in wanted:
            time_evaluation(dataset, predictor)
        if "pictures" in wanted:
            time_pictures(args.layer, predictor.model)
        if "top-images" in wanted:
            time_top_images(dataset, predictor.model)


if __name__ == "__main__":
    main()
