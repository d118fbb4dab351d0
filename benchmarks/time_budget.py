"""The cpu preset given minutes instead of epochs: where each run ends against its budget, and what it reaches.

    python benchmarks/time_budget.py --minutes 1 5 --data-dir ../shared/cifar10

Each budget trains one run through `python -m vgg train --preset cpu --minutes M`, one after the other. Prints the
machine, then per budget: the end of its final score after preparing, by the run's own phase clock (what the budget
counts, vgg/training/time_budget.py), its distance from the budget, the preparing before it and the whole command's
seconds, the epochs it fitted, and its last validation accuracy (images alone) and final score (as Predict scores);
then the run's own line saying when it stopped training and what it reserved for its end, its phases' seconds,
and its curve: the validation accuracy at each epoch's end against the training seconds then.
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.bench import machine_summary  # noqa: E402
from benchmarks.bench_budget import budgeted_run  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("options", nargs="*", help="options for `python -m vgg train`, after --")
    args = parser.parse_args()
    print(machine_summary(), flush=True)
    print("options:", " ".join(args.options) or "(the cpu preset)", flush=True)
    for minutes in args.minutes:
        row = budgeted_run(pathlib.Path(args.data_dir).resolve(), minutes, args.options)
        print(
            f"budget {minutes * 60:5.0f} s: ended {row['ended']:6.1f} s after preparing ({row['off']:+.1%}), "
            f"preparing {row['preparing']:4.1f} s, whole command {row['whole']:5.1f} s | {row['epochs']:g} epochs, "
            f"last validation {row['val_accuracy']:.1%}, final {row['final']:.1%} as Predict scores",
            flush=True,
        )
        phases = ", ".join(f"{seconds:.1f} s {phase}" for phase, seconds in row["phases"].items())
        print(f"  {row['stop']} Phases: {phases}.", flush=True)
        curve = ", ".join(f"{seconds:.0f} s {accuracy:.1%}" for seconds, _, accuracy in row["curve"])
        print(f"  curve (training seconds, validation accuracy at each epoch's end): {curve}.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
