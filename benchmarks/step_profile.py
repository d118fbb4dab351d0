"""Where the cpu preset's training step spends its time: TensorFlow's profiler over real steps, summed by kind of
operation and, for the convolutions, by layer; beside it the step's median time, unprofiled.

    python benchmarks/step_profile.py --data-dir ../shared/cifar10
    python benchmarks/step_profile.py --data-dir ../shared/cifar10 --precision off

It builds the preset as a run does (its precision here, its first layer whitened and frozen), trains warm steps on
real images through the training pipeline, times `--steps` steps by their own callbacks (the median, free of `fit`'s
start and end), then profiles as many more. Shares are of the operations' summed seconds: TensorFlow runs two at once
on two cores, so they add to more than the wall time, and say what the step is made of rather than how long it waits.
"""

import argparse
import collections
import glob
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import vgg  # noqa: E402, F401  (TensorFlow's environment, oneDNN on, before it is imported)

# isort: split
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from benchmarks.bench import machine_summary, sample_images  # noqa: E402
from vgg.core.config import PRECISIONS, preset  # noqa: E402
from vgg.data.cifar10 import training_dataset  # noqa: E402
from vgg.model.build import build_from_config  # noqa: E402
from vgg.model.device import precision_policy  # noqa: E402
from vgg.model.whitening import whiten_first_layer  # noqa: E402
from vgg.training.optimizer import compile_model  # noqa: E402

# Operation types (TensorFlow's, less oneDNN's prefixes) by what they do in the step; any other is "the rest".
KINDS = {
    "Conv2D": "convolutions, forward",
    "Conv2DBackpropInput": "convolutions, input gradients",
    "Conv2DBackpropFilter": "convolutions, weight gradients",
    "FusedBatchNormEx": "batch norm",
    "FusedBatchNormV3": "batch norm",
    "FusedBatchNormGradV3": "batch norm",
    "Relu": "ReLU",
    "ReluGrad": "ReLU",
    "MaxPool": "pooling",
    "MaxPoolGrad": "pooling",
}
CONVOLUTIONS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


class StepTimer(keras.callbacks.Callback):
    """Each training step's seconds, from Keras' batch callbacks."""

    def __init__(self):
        super().__init__()
        self.seconds, self.started = [], None

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def preset_model(config, images):
    """The cpu preset's model, compiled and its first layer whitened on `images`, as a run builds it."""
    keras.mixed_precision.set_global_policy(precision_policy(config, on_gpu=False))
    model = build_from_config(config, for_training=True)
    if config.whiten:
        whiten_first_layer(model, images, seed=config.seed)
    compile_model(model, config, steps_per_epoch=100, on_gpu=False)
    return model


def operation_seconds(trace_dir):
    """{(operation type, layer or ""): seconds} summed over the compute threads of the profile in `trace_dir`."""
    space = xplane_pb2.XSpace()
    space.ParseFromString(
        pathlib.Path(sorted(glob.glob(f"{trace_dir}/plugins/profile/*/*.xplane.pb"))[-1]).read_bytes()
    )
    seconds = collections.Counter()
    for plane in space.planes:
        for line in (line for line in plane.lines if line.name.startswith("tf_Compute")):
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                kind = name.rsplit(":", 1)[-1].replace("_MklNative", "").replace("_Mkl", "")
                if kind == "Process":  # The executor's wrapper around each operation, not one of its own.
                    continue
                layer = next((part for part in name.split("/") if part.startswith("block")), "")
                seconds[kind, layer.rsplit("_", 1)[0] if kind in CONVOLUTIONS else ""] += event.duration_ps / 1e12
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="the preset's mixed_precision")
    args = parser.parse_args()
    config = preset("cpu").replace(mixed_precision=args.precision)
    images, labels = sample_images(config.batch_size * 8, args.data_dir)
    model = preset_model(config, images)
    dataset = training_dataset(config, images, labels).repeat()
    print(machine_summary(), f"| precision {model.dtype_policy.name}", flush=True)
    model.fit(dataset, steps_per_epoch=5, epochs=1, verbose=0)  # Traces the step.
    timer = StepTimer()
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[timer])
    step = statistics.median(timer.seconds[1:])
    print(f"median step {step * 1000:.1f} ms = {config.batch_size / step:,.0f} images/s (unprofiled)", flush=True)
    with tempfile.TemporaryDirectory(prefix="vgg-bench-profile-") as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
        tf.profiler.experimental.stop()
        seconds = operation_seconds(trace_dir)
    by_kind = collections.Counter()
    for (kind, _), value in seconds.items():
        by_kind[KINDS.get(kind, "the rest (optimizer, head, casts)")] += value
    total = sum(by_kind.values())
    print(f"operations: {total / args.steps * 1000:.1f} ms a step summed over both threads")
    for kind, value in by_kind.most_common():
        print(f"  {value / total:6.1%} {value / args.steps * 1000:6.1f} ms  {kind}")
    print("convolutions by layer, ms a step: forward, input gradients, weight gradients")
    for layer in sorted({layer for _, layer in seconds if layer}):
        row = "  ".join(f"{seconds[kind, layer] / args.steps * 1000:5.1f}" for kind in CONVOLUTIONS)
        print(f"  {layer:13s} {row}")


if __name__ == "__main__":
    main()
