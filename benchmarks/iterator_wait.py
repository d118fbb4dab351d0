"""What tf.data's autotuning costs each pass: validation passes and short fits with the project's pipeline
(autotuning off, vgg/data/cifar10.py) against the pipeline as it was (autotuned parallelism and
prefetching), alternating in one process.

Autotuning's thread wakes at doubling intervals (10 ms, 20 ms, ...) and an iterator's end waits for its next
wake, so a pass that would take 1.9 s ends at 2.55 s, one of 7.3 s at 10.24 s.

    python benchmarks/iterator_wait.py --data-dir ../shared/cifar10
"""

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import tensorflow as tf  # noqa: E402

from benchmarks import bench
from vgg.core.config import preset  # noqa: E402
from vgg.data import cifar10 as data  # noqa: E402
from vgg.model.build import build_from_config  # noqa: E402
from vgg.training.optimizer import compile_model  # noqa: E402


def pipeline(images, labels, batch_size, autotune, **options):
    fixed = data.PIPELINE_THREADS, data.PREFETCH_BATCHES
    if autotune:
        data.PIPELINE_THREADS = data.PREFETCH_BATCHES = tf.data.AUTOTUNE
    try:
        dataset = data.make_tf_dataset(images, labels, batch_size, **options)
    finally:
        data.PIPELINE_THREADS, data.PREFETCH_BATCHES = fixed
    if autotune:
        tuned = tf.data.Options()
        tuned.autotune.enabled = True
        dataset = dataset.with_options(tuned)
    return dataset


def seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(bench.machine_summary(), flush=True)
    config = preset("cpu")
    model = build_from_config(config, for_training=True)
    compile_model(model, config, steps_per_epoch=20, on_gpu=False)
    images, labels = bench.sample_images(5120, args.data_dir)
    train = dict(augment=True, shuffle=True)
    model.fit(pipeline(images, labels, 256, False, **train), verbose=0)  # Traces both steps before timing.
    model.evaluate(pipeline(images, labels, 500, False), verbose=0)
    for name, run in (
        ("validation pass, 5,120 images", lambda tune: model.evaluate(pipeline(images, labels, 500, tune), verbose=0)),
        ("fit, 20 steps of 256", lambda tune: model.fit(pipeline(images, labels, 256, tune, **train), verbose=0)),
    ):
        times = {tune: [] for tune in (False, True)}
        for _ in range(args.rounds):
            for tune in (False, True):
                times[tune].append(seconds(lambda run=run, tune=tune: run(tune)))
        off, on = statistics.median(times[False]), statistics.median(times[True])
        print(
            f"{name}: {off:.2f} s autotuning off (the project's), {on:.2f} s autotuned as before ({on / off:.2f}x); "
            f"each: off {' '.join(f'{t:.2f}' for t in times[False])}, on {' '.join(f'{t:.2f}' for t in times[True])}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
