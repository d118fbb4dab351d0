"""The blog's network and the candidate fixes, each trained as the Train page would (`python -m vgg train` in its
own process, start-up included) on real CIFAR-10: final validation accuracy and loss, wall time, the doctor's
verdict and its next fix. It finds the smallest change that makes the blog's network learn in a short run.

    python benchmarks/blog_fixes.py --data-dir ../shared/cifar10 [--variants blog lr bn bn-lr] [--repeat 1]

"seconds" is from the command's start to its end, as a user waits from pressing Start (queue aside).
"""

import argparse
import json
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

PROJECT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from vgg.classroom.doctor import diagnose  # noqa: E402
from vgg.runs.folder import Run  # noqa: E402

# Each candidate as options on top of the blog-short preset.
VARIANTS = {
    "blog": [],
    "bn": ["--batch-norm"],
    "lr": ["--learning-rate", "0.0001"],
    "bn-lr": ["--batch-norm", "--learning-rate", "0.0001"],
    "standardize": ["--input-scaling", "standardize"],
}


def cpu_name():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def train(name, options, data_dir, runs_dir):
    command = [sys.executable, "-m", "vgg", "train", "--preset", "blog-short", "--data-dir", data_dir]
    command += ["--runs-dir", str(runs_dir), "--name", name, *options]
    started = time.monotonic()
    subprocess.run(command, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def report(name, seconds, run):
    status, epochs = run.status(), run.metrics().epochs
    last = epochs[-1] if epochs else None
    diagnosis = diagnose(run)
    return {
        "variant": name,
        "seconds": round(seconds, 1),
        "val_accuracy": last and round(last.val_accuracy, 4),
        "val_loss": last and round(last.val_loss, 4),
        "final_accuracy": status.final_accuracy,
        "phase_seconds": {phase: round(value, 1) for phase, value in (status.phase_seconds or {}).items()},
        "verdict": str(diagnosis.verdict),
        "fix": diagnosis.fix_changes,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="options added to every variant")
    args = parser.parse_args()
    print(f"# {cpu_name()}, {platform.python_version()}", flush=True)
    with tempfile.TemporaryDirectory() as runs_dir:
        for repeat in range(args.repeat):
            for variant in args.variants:
                name = f"{variant}-{repeat}"
                seconds = train(name, VARIANTS[variant] + args.extra, args.data_dir, runs_dir)
                print(json.dumps(report(variant, seconds, Run(pathlib.Path(runs_dir) / name))), flush=True)


if __name__ == "__main__":
    main()
