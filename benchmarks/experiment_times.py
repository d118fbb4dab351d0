"""Wall seconds of each shipped guided experiment's run on the real images (data loading, training, the final
score), outside the app, and what its check found.

    python benchmarks/experiment_times.py no-batch-norm learning-rate-x50 no-augmentation tiny-training-set
"""

import pathlib
import sys
import tempfile
import time

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
from vgg.classroom.experiments import load_experiments, outcome  # noqa: E402
from vgg.runs.folder import create_run  # noqa: E402
from vgg.training.trainer import train_run  # noqa: E402

DATA_DIR = PROJECT_ROOT.parent / "shared" / "cifar10"


def main(ids):
    experiments, _ = load_experiments()
    with tempfile.TemporaryDirectory() as runs_dir:
        for experiment in experiments:
            if experiment.id not in ids:
                continue
            start = time.perf_counter()
            run = create_run(runs_dir, experiment.config(), preset=experiment.preset, data_dir=str(DATA_DIR))
            status = train_run(run, data_dir=DATA_DIR, progress=lambda message: None)
            result = outcome(experiment, run)
            print(
                experiment.id,
                status.state,
                f"{time.perf_counter() - start:.0f} s",
                result.effect,
                result.right,
                result.measured[:300],
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
