"""Accuracy against wall time of one cpu-preset run, with any training options changed: the bench's
time-to-accuracy training (benchmarks.bench.time_to_accuracy_curve), for trying one idea at a time.

    python benchmarks/time_to_accuracy.py --data-dir ../shared/cifar10 --epochs 4
    python benchmarks/time_to_accuracy.py --data-dir ../shared/cifar10 --epochs 4 -- --label-smoothing 0.2

Prints the machine, each epoch's seconds from the command's start, validation accuracy (images alone) and
images/s, then the final model's score as Predict computes it (each image averaged with its mirror image).
"""

import argparse
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks import bench  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=bench.TIME_TO_ACCURACY_EPOCHS)
    parser.add_argument("options", nargs="*", help="options for `python -m vgg train`, after --")
    args = parser.parse_args()
    print(bench.machine_summary(), flush=True)
    print("options:", " ".join(args.options) or "(the cpu preset)", f"--epochs {args.epochs}", flush=True)
    curve, total, final = bench.time_to_accuracy_curve(
        pathlib.Path(args.data_dir).resolve(), epochs=args.epochs, options=args.options
    )
    for epoch, seconds, accuracy, rate in curve:
        print(f"epoch {epoch:3d}  {seconds:6.0f} s  {accuracy:6.1%}  {rate:7.1f} images/s", flush=True)
    median_rate = statistics.median(rate for *_, rate in curve) if curve else float("nan")
    final_text = "no final score" if final is None else f"{final:.2%}"
    print(f"final: {final_text} as Predict scores, whole command {total:.0f} s, median {median_rate:.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
