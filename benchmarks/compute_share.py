"""How close the cpu preset's training comes to this machine: its GFLOP/s as a share of the matrix-multiply peak
measured in the same process, for the preset and for settings that might raise it, alternated over rounds.

    python benchmarks/compute_share.py --data-dir ../shared/cifar10
    python benchmarks/compute_share.py --data-dir ../shared/cifar10 --variants cpu onednn-off cpu --rounds 2

Each variant trains in a fresh interpreter (thread pools and oneDNN are set before TensorFlow starts) through the
trainer's path (benchmarks.bench.trainer_throughput: build, compile, tf.data, `fit`), then times the peak: a
2048x2048 matmul in the dtype the preset trains in here (bfloat16 under mixed bfloat16, on AMX; else float32).
Every row prints the load average, and its ratio to the round's first variant, which rounds alternate against.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vgg.core.config import preset  # noqa: E402

# Each variant: (environment variables, the cpu preset's settings changed, TensorFlow's (intra, inter)-op threads).
VARIANTS = {
    "cpu": ({}, {}, None),
    "float32": ({}, {"mixed_precision": "off"}, None),
    "onednn-off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, {}, None),
    "caller-thread": ({"TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD": "1"}, {}, None),
    "threads-2-1": ({}, {}, (2, 1)),
    "threads-1-2": ({}, {}, (1, 2)),
    "threads-4-1": ({}, {}, (4, 1)),
    "batch512": ({}, {"batch_size": 512, "learning_rate": 0.2}, None),
    "batch128": ({}, {"batch_size": 128, "learning_rate": 0.05}, None),
    "xla": ({}, {"jit_compile": "on"}, None),
}


def child(name, data_dir, images):
    """Trains `name` in this fresh interpreter and prints one JSON line of its speed, FLOPs and peak."""
    environment, changes, threads = VARIANTS[name]
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(threads[1])
    from benchmarks import bench
    from vgg.core.estimate import training_flops_per_image

    config = preset("cpu").replace(**changes)
    warmup = 3 * config.batch_size
    pixels, labels = bench.sample_images(warmup + images, data_dir)
    speed, _, _ = bench.trainer_throughput(config, pixels, labels, warmup_steps=3)
    peak = bench.matmul_gflops(dtype=bench.peak_dtype(config))
    gflops = speed * training_flops_per_image(config) / 1e9
    print(json.dumps({"images_per_second": speed, "gflops": gflops, "peak": peak, "load": os.getloadavg()[0]}))


def measure(name, data_dir, images):
    environment = {**os.environ, **VARIANTS[name][0]}
    command = [sys.executable, __file__, "--child", name, "--images", str(images)]
    command += ["--data-dir", data_dir] if data_dir else []
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"The {name} variant failed: {finished.stderr.strip()[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="real images from this folder (random pixels without it)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--images", type=int, default=5120, help="images per timed pass, after 3 warm-up steps")
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.data_dir, args.images)
    from benchmarks.bench import machine_summary

    print(machine_summary(), flush=True)
    for round_number in range(1, args.rounds + 1):
        first = None
        for name in args.variants:
            row = measure(name, args.data_dir, args.images)
            first = first or row
            print(
                f"round {round_number} {name:14s} {row['images_per_second']:7.1f} images/s "
                f"({row['images_per_second'] / first['images_per_second']:.2f}x the round's first), "
                f"{row['gflops']:5.1f} GFLOP/s of a {row['peak']:5.1f} GFLOP/s peak: {row['gflops'] / row['peak']:.1%} "
                f"| load {row['load']:.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
