"""Training images/s of the cpu preset and its variants, each measured in the same process on real images.

Issue 26's speed side: a variant that trains more images per second fits more epochs into five minutes, so
each is timed on the trainer's own path (vgg.bench.trainer_throughput: build, compile, tf.data, `fit`).

    python benchmarks/train_speed.py --data-dir ../shared/cifar10
    python benchmarks/train_speed.py --data-dir ../shared/cifar10 --variants cpu bf16 batch512
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vgg import bench, model  # noqa: E402
from vgg.config import preset  # noqa: E402

CPU = preset("cpu")
# Each variant: the cpu preset with these settings changed ("fused-bn" swaps the batch-norm layer instead).
VARIANTS = {
    "cpu": {},
    "fused-bn": {},
    "bf16": {"mixed_precision": "bfloat16"},
    "batch512": {"batch_size": 512, "learning_rate": 0.2},
    "batch128": {"batch_size": 128, "learning_rate": 0.05},
    "no-augment": {"augment": False},
    "width0.375": {"width": 0.375},
    "width0.375-bf16": {"width": 0.375, "mixed_precision": "bfloat16"},
    "half": {"width": 0.5},
    "half-bf16": {"width": 0.5, "mixed_precision": "bfloat16"},
}


def fused_batch_norm_class():
    """Keras' BatchNormalization, trained through TensorFlow's fused kernel (FusedBatchNormV3) instead of
    Keras' own moments and normalization: is the batch norm what holds the cpu preset's speed?"""
    import keras
    import tensorflow as tf

    class FusedBatchNormalization(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            if not (training and self.trainable):
                return super().call(inputs, training=training, mask=mask)
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1 - self.momentum))
            return tf.cast(outputs, self.compute_dtype)

    return FusedBatchNormalization


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--images", type=int, default=12_288, help="images per timed pass (after a warm-up)")
    args = parser.parse_args()
    print(bench.machine_summary(), flush=True)
    images, labels = bench.sample_images(args.images, args.data_dir)
    baseline = None
    keras_batch_norm = model.layers.BatchNormalization
    for name in args.variants:
        config = CPU.replace(**VARIANTS[name])
        model.layers.BatchNormalization = fused_batch_norm_class() if name == "fused-bn" else keras_batch_norm
        rate, params, flops = bench.trainer_throughput(config, images, labels, warmup_steps=4)
        baseline = baseline or rate
        print(f"{name:18s} {rate:8.1f} images/s  ({rate / baseline:.2f}x the first)  {params:,} parameters, "
              f"{flops / 1e9:.3f} GFLOP per training image, {rate * flops / 1e9:.0f} GFLOP/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
