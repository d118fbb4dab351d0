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
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.bench import PROJECT_ROOT, machine_summary  # noqa: E402
from vgg.core.phases import ANALYSING, PREPARING  # noqa: E402
from vgg.runs.folder import open_run  # noqa: E402


def budgeted_run(data_dir, minutes, options=()):
    """{measure: value} of one cpu-preset run given `minutes`, with `options` added to its command line."""
    with tempfile.TemporaryDirectory(prefix="vgg-bench-budget-") as runs_dir:
        command = [
            *(sys.executable, "-m", "vgg", "train", "--preset", "cpu", "--minutes", str(minutes)),
            *("--data-dir", str(data_dir), "--runs-dir", runs_dir, "--name", "budget", *options),
        ]
        log_path = pathlib.Path(runs_dir, "train.log")
        started = time.perf_counter()
        with open(log_path, "w") as log:  # A file, not a pipe nobody reads while it trains.
            finished = subprocess.run(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
        whole = time.perf_counter() - started
        if finished.returncode != 0:
            raise RuntimeError(f"The {minutes} min run failed: {log_path.read_text().strip()[-2000:]}")
        run = open_run(runs_dir, "budget")
        status, epochs = run.status(), run.metrics().validated_epochs
        stop = [line for line in log_path.read_text().splitlines() if line.startswith("Training stops at")]
    seconds = status.phase_seconds or {}
    # The budget counts from the first step to the final score; the run reads finished then, and its analyses for
    # the pages (vgg/explain/ready.py) follow outside it.
    ended = sum(value for phase, value in seconds.items() if phase not in (PREPARING, ANALYSING))
    return {
        "ended": ended,
        "off": ended / (minutes * 60) - 1,
        "preparing": seconds.get(PREPARING, float("nan")),
        "whole": whole,
        "epochs": epochs[-1].epoch if epochs else 0,
        "val_accuracy": epochs[-1].val_accuracy if epochs else float("nan"),
        "final": status.final_accuracy if status.final_accuracy is not None else float("nan"),
        "stop": stop[-1] if stop else "(no stop line)",
        "curve": [(row.elapsed, row.epoch, row.val_accuracy) for row in epochs],
        "phases": seconds,
    }


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
