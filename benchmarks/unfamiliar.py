"""How well Predict's unfamiliar flag separates pictures unlike CIFAR-10 from real validation images, against the
top probability ("unsure") the app used alone before.

    python benchmarks/unfamiliar.py --data-dir ../shared/cifar10

Reads back (or builds, once) the shipped model's neighbour index, calibrated on 2,000 validation images, as the app
does. Scores the other 3,000 validation images and the 48 pictures of tests/data/unfamiliar/ (decoded as uploads)
both ways: the distance score of vgg/explain/unfamiliar.py and one minus the top probability (each image averaged
with its mirror image, as Predict does). Prints one JSON object: each score's AUROC (the chance that an unfamiliar
picture scores above a validation image), the share of unfamiliar pictures and of the held-out validation images
flagged at each one's threshold (the index's, and the model record's "unsure" line, each where 5% of validation
images are flagged), and the distance score's share per kind of picture.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vgg.data.cifar10 import load_cifar10  # noqa: E402
from vgg.data.uploads import load_upload  # noqa: E402
from vgg.explain import neighbours  # noqa: E402
from vgg.explain.evaluation import split_for  # noqa: E402
from vgg.explain.unfamiliar import block_distances  # noqa: E402
from vgg.runs.record import SHIPPED_MODEL, ModelRecord  # noqa: E402

UNFAMILIAR = ROOT / "tests" / "data" / "unfamiliar"


def auroc(familiar, unfamiliar):
    """The chance that an unfamiliar image scores above a familiar one, ties counting half."""
    familiar, unfamiliar = np.asarray(familiar)[None, :], np.asarray(unfamiliar)[:, None]
    return float(np.mean(unfamiliar > familiar) + 0.5 * np.mean(unfamiliar == familiar))


def model_index(model, dataset, split):
    """(index, seconds): the shipped model's index, read back or built into the cache as the app does."""
    started = time.perf_counter()
    index, _ = neighbours.index_for(SHIPPED_MODEL, dataset, split, lambda: model)
    return index, time.perf_counter() - started


def distance_scores(model, index, images):
    """The unfamiliar score of each of `images` (N, 32, 32, 3)."""
    features = neighbours.pooled_features(model, images)
    return index.calibration.scores(block_distances(index.features, features))


def compare(name, familiar, unfamiliar, threshold):
    return {
        f"{name}_auroc": round(auroc(familiar, unfamiliar), 3),
        f"{name}_unfamiliar_flagged": round(float(np.mean(unfamiliar > threshold)), 3),
        f"{name}_validation_flagged": round(float(np.mean(familiar > threshold)), 3),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="The CIFAR-10 image folder (default: VGG_DATA_DIR).")
    args = parser.parse_args(argv)
    from vgg.explain.predictor import Predictor
    from vgg.model.device import cpu_name

    split = split_for(SHIPPED_MODEL)
    dataset = load_cifar10(args.data_dir, *split)
    predictor = Predictor.for_file(SHIPPED_MODEL, ROOT / "runs")
    index, seconds = model_index(predictor.model, dataset, split)
    held_out = np.setdiff1d(np.arange(len(dataset.y_val)), neighbours.calibration_subset(dataset))
    files = sorted(UNFAMILIAR.glob("*.png"))
    pictures = np.stack([load_upload(file.read_bytes(), file.name)[1] for file in files])
    validation = dataset.x_val[held_out]
    ours = distance_scores(predictor.model, index, validation), distance_scores(predictor.model, index, pictures)
    doubt = [1 - predictor.probabilities(images).max(axis=1) for images in (validation, pictures)]
    flagged = ours[1] > index.calibration.threshold
    kinds = np.array([file.stem.split("-")[0] for file in files])
    per_kind = {kind: round(float(np.mean(flagged[kinds == kind])), 3) for kind in sorted(set(kinds))}
    print(
        json.dumps(
            {
                "validation_images": len(held_out),
                "unfamiliar_images": len(files),
                **compare("distance", *ours, index.calibration.threshold),
                **compare("top_probability", *doubt, 1 - ModelRecord.of(SHIPPED_MODEL).unsure_below),
                "distance_flagged_per_kind": per_kind,
                "missed": [file.stem for file, hit in zip(files, flagged, strict=True) if not hit],
                "threshold": round(index.calibration.threshold, 4),
                "index_seconds": round(seconds, 1),
                "cpu": cpu_name(),
                "cores": os.cpu_count(),
                "load_average": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
