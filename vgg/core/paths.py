"""Where the project's files are: the project root (the app runs from it, not installed), its assets and
experiments, and the runs folder, which `VGG_RUNS_DIR` may move."""

import os
import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
ASSETS_DIR = PROJECT_ROOT / "assets"
EXPERIMENTS_DIR = PROJECT_ROOT / "experiments"
BENCHMARKS_DIR = PROJECT_ROOT / "benchmarks"
RUNS_DIR_VARIABLE = "VGG_RUNS_DIR"
# The teacher's password, which switches class mode on (vgg/classroom/policy.py); no training process gets it.
PASSWORD_VARIABLE = "VGG_TEACHER_PASSWORD"


def default_runs_dir():
    """$VGG_RUNS_DIR, else ./runs relative to where the command runs (the project root for the app)."""
    return pathlib.Path(os.environ.get(RUNS_DIR_VARIABLE) or "runs")
