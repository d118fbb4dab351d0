"""The Train page's estimate against the actual wall time, per preset: a first `python -m vgg train` times the
machine, then the estimate for the same settings is printed, then a second run of them is timed. Start-up counts,
as each run is a process of its own, started as a user starts one.

    python benchmarks/estimates.py --presets blog-short cpu
    python benchmarks/estimates.py --presets cpu --train-subset 500 --epochs 1 --validation-size 200  # a quick check
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
from vgg.core.estimate import estimate  # noqa: E402
from vgg.core.phases import PHASES, SHORT_WORDS  # noqa: E402
from vgg.runs.folder import list_runs, open_run  # noqa: E402
from vgg.runs.status import images_per_epoch  # noqa: E402

DATA_DIR = PROJECT_ROOT.parent / "shared" / "cifar10"


def timed_run(runs_dir, name, preset, options):
    """Wall seconds of one `python -m vgg train` of `preset` with `options`, from its start to its exit."""
    command = [sys.executable, "-m", "vgg", "train", "--preset", preset, "--runs-dir", str(runs_dir), "--name", name]
    started = time.perf_counter()
    subprocess.run([*command, *options], cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def phases_text(phases):
    """'31 s preparing, 12 s training, ...', in the phases' order."""
    return ", ".join(f"{phases[phase]:.0f} s {SHORT_WORDS[phase]}" for phase in PHASES if phase in phases)


def measure(runs_dir, preset, options):
    """Times a calibrating run and a second one of `preset`; prints the estimate between them against the second."""
    first = timed_run(runs_dir, f"{preset}-1", preset, options)
    run = open_run(runs_dir, f"{preset}-1")
    config = run.config()
    guess = estimate(config, images_per_epoch(config, run.status()), list_runs(runs_dir))
    second = timed_run(runs_dir, f"{preset}-2", preset, options)
    actual = open_run(runs_dir, f"{preset}-2").status().phase_seconds
    print(
        f"{preset} {' '.join(options)}: first run {first:.0f} s; estimate {guess.seconds:.0f} s "
        f"({phases_text(guess.phases)}); second run {second:.0f} s ({phases_text(actual)}); "
        f"estimate/actual {guess.seconds / second:.2f}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["blog-short", "cpu"])
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--train-subset", type=int, help="training images per epoch (default: the preset's)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the preset's)")
    parser.add_argument("--validation-size", type=int, help="validation images (default: the preset's)")
    args = parser.parse_args()
    options = ["--data-dir", args.data_dir]
    for flag, value in (
        ("--train-subset", args.train_subset),
        ("--epochs", args.epochs),
        ("--validation-size", args.validation_size),
    ):
        if value is not None:
            options += [flag, str(value)]
    with tempfile.TemporaryDirectory(prefix="vgg-estimates-") as runs_dir:
        for preset in args.presets:
            measure(pathlib.Path(runs_dir), preset, options)


if __name__ == "__main__":
    main()
