"""Times what a finished run prepares for its pages (vgg/explain/ready.py), step by step, for a model of a preset's
size on real images, and then the first view of its Mistakes and Nearest images pages (AppTest, in a fresh process:
the model, the images and the saved analyses all read for the first time, then with the model and images loaded),
which should cost about a read-back.

    python benchmarks/ready.py --data-dir ../shared/cifar10 [--preset cpu] [--tiny]

--tiny times the tests' tiny run instead (an eighth of the width, on 600 generated images, 100 held out).
The model is untrained: every step costs what a trained one's does, since each runs a fixed amount of work.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

PROJECT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "tests")]

import vgg  # noqa: E402, F401  (TensorFlow's environment, before it is imported)
from vgg.core.config import preset  # noqa: E402
from vgg.data.cifar10 import CACHE_DIR_VARIABLE, DATA_DIR_VARIABLE, load_cifar10  # noqa: E402
from vgg.runs.folder import create_run  # noqa: E402
from vgg.runs.status import State  # noqa: E402

PAGES = {
    "Mistakes": "from app_pages import mistakes_page\nmistakes_page.render()\n",
    "Nearest images": (
        "import streamlit as st\nfrom app_pages.caches import dataset_for, load_predictor\n"
        "from app_pages.neighbours_view import neighbours_ui\nfrom vgg.explain.evaluation import split_for\n"
        "path = {path!r}\npredictor = load_predictor(path, 0)\ndataset, _ = dataset_for(*split_for(path))\n"
        "neighbours_ui(predictor, dataset.x_val[3], path)\n"
    ),
}


def finished_run(runs_dir, config, data_dir):
    """A run folder holding an untrained model of `config` as its final model, finished."""
    from vgg.model.build import build_from_config

    run = create_run(runs_dir, config, name="bench", data_dir=str(data_dir), title="Bench")
    build_from_config(config).save(run.model_path)
    run.update_status(state=State.FINISHED)
    return run


def prepare(run, data_dir):
    """Prints each step's seconds and the saved files' size; returns the total seconds."""
    from vgg.explain import ready
    from vgg.explain.evaluation import split_for
    from vgg.explain.predictor import load_model
    from vgg.runs.record import ModelRecord

    record, split = ModelRecord.of(run.model_path), split_for(run.model_path)
    dataset = load_cifar10(data_dir, *split)
    model = load_model(run.model_path, run.path.parent)
    started = time.perf_counter()
    found = ready.steps(run.model_path, model, dataset, split, record.flip_average, record.class_names)
    outcome = ready.prepare(found, budget_seconds=float("inf"))
    total = time.perf_counter() - started
    again = ready.prepare(found, budget_seconds=float("inf"))  # Every step read back, as a page does.
    for (what, seconds), (_, read) in zip(outcome.done, again.done, strict=True):
        print(f"  {what}: {seconds:.1f} s, read back in {read * 1000:.0f} ms")
    size = sum(path.stat().st_size for path in run.path.glob("model.*-*.npz"))
    print(
        f"preparing: {total:.1f} s in all ({len(dataset.y_val):,} validation images, "
        f"{len(dataset.y_train):,} training images), saved {size / 1e6:.1f} MB; problems: {outcome.problems}"
    )
    return total


def first_views(run):
    """Each page's first draw in this process (the model and images loaded too), then again with them loaded and
    only the page's saved analyses read anew, as a running server's first view of a finished run's model; and
    whether either computed an analysis rather than read it back."""
    from streamlit.testing.v1 import AppTest

    from app_pages import mistakes_page, neighbours_view
    from vgg.explain.turns import ANALYSES

    for name, script in PAGES.items():
        for when in ("in a new server", "in a running server"):
            mistakes_page.read_back.clear()
            neighbours_view.read_back.clear()
            app = AppTest.from_string("import vgg\n" + script.format(path=str(run.model_path)), default_timeout=600)
            app.query_params["model"] = f"Run {run.name} (final)"
            given, started = ANALYSES.given, time.perf_counter()
            app.run()
            seconds = time.perf_counter() - started
            problems = [element.value for element in app.error] + [str(element) for element in app.exception]
            print(
                f"first view of {name} {when}: {seconds:.2f} s, analyses computed on the server: "
                f"{ANALYSES.given - given} {problems or ''}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="real CIFAR-10 as an image folder (default: VGG_DATA_DIR)")
    parser.add_argument("--preset", default="cpu", help="the preset whose model size to time (default: cpu)")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny run on generated images instead")
    args = parser.parse_args()
    from vgg.model.device import cpu_name

    print(f"{cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        if args.tiny:
            from helpers import tiny_config, write_image_folder

            os.environ[CACHE_DIR_VARIABLE] = str(folder / "cache")
            config, data_dir = tiny_config(), write_image_folder(folder / "data", per_class=60)
        else:  # The images decoded once in the usual cache; a run's analyses are saved in its folder anyway.
            data_dir = pathlib.Path(args.data_dir or os.environ[DATA_DIR_VARIABLE]).resolve()
            config = preset(args.preset)
        print(f"{'tiny run' if args.tiny else args.preset + ' preset'}: width {config.width}")
        os.environ[DATA_DIR_VARIABLE] = str(data_dir)
        os.environ["VGG_RUNS_DIR"] = str(folder / "runs")
        os.chdir(PROJECT)
        run = finished_run(folder / "runs", config, data_dir)
        prepare(run, data_dir)
        first_views(run)


if __name__ == "__main__":
    main()
