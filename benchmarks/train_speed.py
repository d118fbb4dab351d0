"""Training images/s of the cpu preset and its variants, each measured in the same process on real images.

Issue 26's speed side: a variant that trains more images per second fits more epochs into five minutes, so
each is timed on the trainer's own path (benchmarks.bench.trainer_throughput: build, compile, tf.data, `fit`), in the
precision the run would use on this machine unless the variant names one.

    python benchmarks/train_speed.py --data-dir ../shared/cifar10
    python benchmarks/train_speed.py --data-dir ../shared/cifar10 --variants cpu keras-bn float32 keras-bn-float32 cpu
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import vgg  # noqa: E402, F401  (TensorFlow's environment, oneDNN on, before it is imported)

# isort: split
import tensorflow as tf  # noqa: E402

from benchmarks import bench
from vgg.core.config import preset  # noqa: E402
from vgg.model import build as model  # noqa: E402
from vgg.model.device import precision_policy  # noqa: E402

CPU = preset("cpu")
# Each variant: the cpu preset with these settings changed; "keras-bn" variants train Keras' own batch norm in
# place of the fused kernel (vgg/model/batch_norm.py), as the trainer did before.
VARIANTS = {
    "cpu": {},
    "keras-bn": {},
    "float32": {"mixed_precision": "off"},
    "keras-bn-float32": {"mixed_precision": "off"},
    "bf16": {"mixed_precision": "bfloat16"},
    "batch512": {"batch_size": 512, "learning_rate": 0.2},
    "batch128": {"batch_size": 128, "learning_rate": 0.05},
    "no-augment": {"augment": False},
    "alternate-flips": {"alternate_flips": True},
    "no-bn-scale": {"batch_norm_scale": False},
    "width0.375": {"width": 0.375},
    "half": {"width": 0.5},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--images", type=int, default=12_288, help="images per timed pass (after a warm-up)")
    args = parser.parse_args()
    print(bench.machine_summary(), flush=True)
    images, labels = bench.sample_images(args.images, args.data_dir)
    baseline = None
    fused_batch_norm = model.FusedBatchNormalization
    for name in args.variants:
        config = CPU.replace(**VARIANTS[name])
        model.FusedBatchNormalization = model.layers.BatchNormalization if "keras-bn" in name else fused_batch_norm
        rate, params, flops = bench.trainer_throughput(config, images, labels, warmup_steps=4)
        baseline = baseline or rate
        policy = precision_policy(config, on_gpu=bool(tf.config.list_physical_devices("GPU")))
        print(
            f"{name:18s} {rate:8.1f} images/s  ({rate / baseline:.2f}x the first)  {policy}, {params:,} parameters, "
            f"{flops / 1e9:.3f} GFLOP per training image, {rate * flops / 1e9:.0f} GFLOP/s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
