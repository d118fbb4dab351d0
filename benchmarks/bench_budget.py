"""The cpu preset given minutes instead of epochs (`python -m vgg train --minutes M`): one run per budget, where
its final score ends against the budget and what it reaches; the bench's rows and benchmarks/time_budget.py."""

import pathlib
import subprocess
import sys
import tempfile
import time

from benchmarks.bench_table import make_row
from vgg.core.paths import PROJECT_ROOT
from vgg.core.phases import ANALYSING, PREPARING, TRAINING
from vgg.runs.folder import open_run

BUDGETS = (1.0, 5.0)  # Minutes: the issue's two targets, 60% within one minute and 85% within five.
ACCURACY_TARGETS = {1.0: 60, 5.0: 85}
END_TARGET = 5  # Per cent: a run's final score ends within this of its budget.


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
            raise RuntimeError(f"The {minutes:g} min run failed: {log_path.read_text().strip()[-2000:]}")
        run = open_run(runs_dir, "budget")
        status, epochs = run.status(), run.metrics().validated_epochs
        stop = [line for line in log_path.read_text().splitlines() if line.startswith("Training stops at")]
    seconds = status.phase_seconds or {}
    # The budget counts from the first step to the final score; the run reads finished then, and its analyses for
    # the pages (vgg/explain/ready.py) follow outside it.
    ended = sum(value for phase, value in seconds.items() if phase not in (PREPARING, ANALYSING))
    fitted = epochs[-1].epoch if epochs else 0
    return {
        "ended": ended,
        "off": ended / (minutes * 60) - 1,
        "preparing": seconds.get(PREPARING, float("nan")),
        "whole": whole,
        "epochs": fitted,
        "images_per_second": fitted * (status.train_images or 0) / seconds.get(TRAINING, float("inf")),
        "val_accuracy": epochs[-1].val_accuracy if epochs else float("nan"),
        "final": status.final_accuracy if status.final_accuracy is not None else float("nan"),
        "stop": stop[-1] if stop else "(no stop line)",
        "curve": [(row.elapsed, row.epoch, row.val_accuracy) for row in epochs],
        "phases": seconds,
    }


def budget_rows(data_dir, say=print):
    """The bench's rows: the final score of a run given each of BUDGETS, and the farthest a final score ended from
    its budget; skipped without real images."""
    names = {minutes: f"accuracy within {minutes:g} minute{'s' if minutes != 1 else ''}" for minutes in BUDGETS}
    end_name = "runs given minutes: farthest end from the budget"
    if not data_dir:
        note = "skipped: needs --data-dir (real CIFAR-10 images)"
        return [make_row(names[minutes], None, "%", target=target(minutes), note=note) for minutes in BUDGETS] + [
            make_row(end_name, None, "%", target=("value", "<=", END_TARGET), note=note)
        ]
    rows, ends, offs = [], [], []
    for minutes in BUDGETS:
        say(f"training the cpu preset given {minutes:g} min on real images (`python -m vgg train --minutes`)")
        try:
            run = budgeted_run(pathlib.Path(data_dir).resolve(), minutes)
        except RuntimeError as error:  # A failed training is a result to report; the rows before it are kept.
            failed = make_row(names[minutes], None, "%", target=target(minutes), note=f"failed: {error}")
            rows.append(dict(failed, target_met=False))
            continue
        curve = " ".join(f"{seconds:.0f}s:{accuracy:.1%}" for seconds, _, accuracy in run["curve"])
        note = (
            f"cpu preset at {run['images_per_second']:,.0f} images/s, {run['epochs']:.1f} epochs; final score at "
            f"{run['ended']:.1f} s of {minutes * 60:.0f} ({run['off']:+.1%}) after {run['preparing']:.1f} s of "
            f"preparing, averaged with mirror images; curve {curve}"
        )
        rows.append(make_row(names[minutes], 100 * run["final"], "%", target=target(minutes), note=note))
        ends.append(f"{minutes:g} min: {run['ended']:.1f} s ({run['off']:+.1%})")
        offs.append(100 * abs(run["off"]))
        say(f"{names[minutes]}: {run['final']:.1%}; {ends[-1]}")
    rows.append(
        make_row(end_name, max(offs, default=None), "%", target=("value", "<=", END_TARGET), note="; ".join(ends))
    )
    return rows


def target(minutes):
    return ("value", ">=", ACCURACY_TARGETS[minutes])
