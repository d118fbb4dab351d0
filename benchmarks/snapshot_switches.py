"""What a move of the Inside page's epoch slider costs: for each snapshot of a model file, the first answer from a
new model at that epoch (load, set weights, trace) and later answers once its Predictor is cached. With --ship, first
copies a finished run's model, snapshots and card into assets/ (training/export.py `ship_snapshots`).

    python benchmarks/snapshot_switches.py [--ship RUN_FOLDER [--stem vgg16_cpu_snapshots]] [--time MODEL_FILE]
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vgg.core.paths import ASSETS_DIR  # noqa: E402
from vgg.runs.folder import Run  # noqa: E402
from vgg.runs.snapshots import epochs_of, load_epoch, snapshots_dir  # noqa: E402
from vgg.training.export import ship_snapshots  # noqa: E402


def time_switches(model_path, runs_dir="runs", repeats=5):
    """{epoch: (ms to a first answer from a new model at that epoch, ms of later answers)}: what a first move of the
    slider to an epoch costs (load, set weights, trace), and a move back to it once its Predictor is cached."""
    from vgg.explain.predictor import Predictor, load_model
    from vgg.model.device import limit_serving_threads

    limit_serving_threads()  # As the server answers.
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    timings = {}
    for epoch in epochs_of(model_path):
        start = time.perf_counter()
        predictor = Predictor(load_epoch(load_model(model_path, runs_dir), model_path, epoch))
        predictor.top_k(image)
        first = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(repeats):
            predictor.top_k(image)
        timings[epoch] = (1000 * first, 1000 * (time.perf_counter() - start) / repeats)
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description="Ship or time a run's snapshots.")
    parser.add_argument("--ship", metavar="RUN_FOLDER", help="copy a finished run's model and snapshots to assets/")
    parser.add_argument("--stem", default="vgg16_cpu_snapshots", help="the file name in assets/, without .keras")
    parser.add_argument("--time", metavar="MODEL_FILE", help="time loading each snapshot of this model file")
    arguments = parser.parse_args(argv)
    if arguments.ship:
        arguments.time = arguments.time or str(ship_snapshots(Run(arguments.ship), ASSETS_DIR, arguments.stem))
    if arguments.time:
        folder = snapshots_dir(arguments.time)
        sizes = [file.stat().st_size for file in folder.glob("epoch-*.npz")]
        print(f"{len(sizes)} snapshots in {folder}: {sum(sizes) / 2**20:.2f} MB, {max(sizes) / 2**20:.2f} MB each")
        for epoch, (first, later) in time_switches(arguments.time, pathlib.Path(arguments.time).parent).items():
            print(f"epoch {epoch}: first answer {first:.0f} ms, later {later:.1f} ms")


if __name__ == "__main__":
    main()
