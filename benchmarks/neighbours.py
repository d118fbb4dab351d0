"""The shipped model's neighbour index: its build, its size, a query, and how often each block's neighbours share
an image's class.

    python benchmarks/neighbours.py [--data-dir ../shared/cifar10] [--serving-threads] [--queries 500]

Builds the index of 10,000 training images of the shipped model's split into a fresh cache, as the app does the
first time, reads it back, then asks it about validation images. Prints one JSON object: build seconds and
images/s, the file's MB and the index's MB in memory, read-back ms, query ms (median and 95th percentile with the
forward pass; the query alone; its products through BLAS instead) and, per block, the share of the 8 neighbours
of the class of the image.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vgg.data.cifar10 import default_data_dir, load_cifar10  # noqa: E402
from vgg.explain import neighbours  # noqa: E402
from vgg.explain.evaluation import split_for  # noqa: E402
from vgg.runs.record import SHIPPED_MODEL  # noqa: E402


def no_model():
    raise AssertionError("The saved index was not read back.")


def build_and_read_back(model, dataset, split):
    """(index, build seconds, file MB, read-back seconds) in a fresh cache folder."""
    indices = neighbours.training_subset(dataset.y_train, neighbours.INDEX_IMAGES)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["VGG_CACHE_DIR"] = folder
        key = neighbours.index_key(SHIPPED_MODEL, neighbours.data_id(dataset, *split, indices))
        started = time.perf_counter()
        neighbours.index_of(key, dataset, indices, lambda: model)
        build = time.perf_counter() - started
        started = time.perf_counter()
        index, _ = neighbours.index_of(key, dataset, indices, no_model)
        read_back = time.perf_counter() - started
        return index, build, key.file.stat().st_size / 2**20, read_back


def ask(model, index, images, labels):
    """Per query: ms with the forward pass, ms of the query alone, ms of the same products through BLAS (`@`,
    which vgg.explain.neighbours avoids); and per block the class share."""
    total, products, blas, shares = [], [], [], np.zeros(5)
    for image, label in zip(images, labels, strict=True):
        started = time.perf_counter()
        features = neighbours.image_features(model, image)
        between = time.perf_counter()
        answer = neighbours.query(index, features)
        total.append(time.perf_counter() - started)
        products.append(time.perf_counter() - between)
        started = time.perf_counter()
        for vectors, wanted in zip(index.features, features, strict=True):
            vectors @ neighbours.unit_rows(wanted)
        blas.append(time.perf_counter() - started)
        shares += [np.mean(block.labels == label) for block in answer.blocks]
    return [np.array(times) * 1000 for times in (total, products, blas)], shares / len(labels)


def spread(milliseconds):
    """Median and 95th percentile."""
    return [round(float(np.median(milliseconds)), 2), round(float(np.percentile(milliseconds, 95)), 2)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="The CIFAR-10 image folder (default: VGG_DATA_DIR).")
    parser.add_argument("--serving-threads", action="store_true", help="Limit TensorFlow as the web server does.")
    parser.add_argument("--queries", type=int, default=500, help="Validation images asked about.")
    args = parser.parse_args(argv)
    from vgg.explain.predictor import load_model
    from vgg.model.device import cpu_name, limit_serving_threads

    if args.serving_threads:
        limit_serving_threads()
    split = split_for(SHIPPED_MODEL)
    dataset = load_cifar10(args.data_dir or default_data_dir(), *split)
    model = load_model(SHIPPED_MODEL, "runs")
    neighbours.image_features(model, dataset.x_val[0])  # Traced once, as the app's first image is.
    index, build, megabytes, read_back = build_and_read_back(model, dataset, split)
    (total, products, blas), shares = ask(model, index, dataset.x_val[: args.queries], dataset.y_val[: args.queries])
    print(
        json.dumps(
            {
                "images": len(index.indices),
                "channels": index.channels,
                "build_s": round(build, 2),
                "build_images_per_s": round(len(index.indices) / build),
                "file_mb": round(megabytes, 1),
                "memory_mb": round(index.nbytes / 2**20, 1),
                "read_back_ms": round(read_back * 1000),
                "query_ms_median": round(float(np.median(total)), 1),
                "query_ms_p95": round(float(np.percentile(total, 95)), 1),
                "query_alone_ms": spread(products),
                "blas_products_ms": spread(blas),
                "queries": len(total),
                "class_share_per_block": [round(float(share), 3) for share in shares],
                "serving_threads": args.serving_threads,
                "cpu": cpu_name(),
                "cores": os.cpu_count(),
                "load_average": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
