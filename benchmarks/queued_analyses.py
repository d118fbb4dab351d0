"""Four first-time analyses asked for at once in one server process, while a page watches a training run: times
each analysis's turn (they run one after another) and the live view's redraw, with and without the queue.

    python benchmarks/queued_analyses.py [--seconds 10]

The analyses run on a 1/8-width VGG16 over generated images (a test's model), on the server's one TensorFlow
thread (vgg/model/device.py); the watched run is a run folder whose lock this process holds, with a few epochs
of metrics, redrawn by the function the Train page's live fragment calls, through Streamlit's AppTest.
"""

import argparse
import dataclasses
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

sys.path[:0] = [str(pathlib.Path(__file__).resolve().parent.parent)]

import vgg  # noqa: E402, F401  (TensorFlow's environment, before it is imported)
from vgg.core import locks  # noqa: E402
from vgg.runs.folder import create_run  # noqa: E402
from vgg.runs.metrics import BatchRow, EpochRow, row_line  # noqa: E402
from vgg.runs.status import State  # noqa: E402

LAYER = "block2_conv1"
# The function the Train page's live fragment calls every redraw (app_pages/train_page.py).
LIVE_VIEW = "from app_pages.run_view import run_view_ui\nrun_view_ui({name!r}, [], live=True)\n"


def watched_run(runs_dir, config, name="live", epochs=3):
    """A run that reads as training (this process holds its lock, as its trainer would) with `epochs` epochs of
    metrics; returns (run, the lock's descriptor, to close when done)."""
    run = create_run(runs_dir, config, name=name, title="Watched run")
    rows = []
    for epoch in range(1, epochs + 1):
        for step in range(4):
            rows.append(BatchRow(epoch * 10 + step, epoch - 1 + step / 4, 2.0 / epoch, 0.1 * epoch, 0.05, 900.0, 3.0))
        rows.append(
            EpochRow(epoch * 10 + 4, epoch, 2.0 / epoch, 0.1 * epoch, 2.1 / epoch, 0.1 * epoch, 0.05, 900.0, 4.0)
        )
    run.metrics_path.write_text("".join(row_line(row) for row in rows))
    descriptor = locks.acquire(run.lock_path)
    run.update_status(state=State.RUNNING)
    return run, descriptor


@dataclasses.dataclass
class Turn:
    """When one analysis started computing and last reported progress, and the most jobs it saw ahead of it."""

    started: float | None = None
    last_report: float | None = None
    most_ahead: int = 0

    def get_model(self, model):
        def get():
            self.started = time.perf_counter()
            return model

        return get

    def progress(self, done, total, ahead=0):
        if ahead:
            self.most_ahead = max(self.most_ahead, ahead)
        else:
            self.last_report = time.perf_counter()


def tiny_analyses(model_path, model, dataset, split):
    """{name: (Turn, the call that computes it)} for four first-time analyses of the model at `model_path`:
    Mistakes' evaluation, a layer's pictures, the top images and the neighbour index."""
    from vgg.explain.evaluation import evaluation_key, evaluation_of, split_id
    from vgg.explain.feature_vis import pictures_of
    from vgg.explain.neighbours import index_for
    from vgg.explain.top_images import top_images_of
    from vgg.model.build import activation_layer_names

    key = evaluation_key(model_path, split_id(dataset, *split))
    turns = {name: Turn() for name in ("evaluation", "layer pictures", "top images", "neighbour index")}
    calls = {
        "evaluation": lambda turn: evaluation_of(key, dataset, turn.get_model(model), False, turn.progress),
        "layer pictures": lambda turn: pictures_of(model_path, LAYER, turn.get_model(model), 4, turn.progress),
        "neighbour index": lambda turn: index_for(model_path, dataset, split, turn.get_model(model), turn.progress),
        "top images": lambda turn: top_images_of(
            key, activation_layer_names(model), dataset.x_val, turn.get_model(model), turn.progress
        ),
    }
    return {name: (turns[name], calls[name]) for name in turns}


def start_all(analyses):
    """Starts every analysis in its own thread at the same moment, as four sessions would; returns the threads."""
    start = threading.Barrier(len(analyses))

    def session(turn, call):
        start.wait()
        call(turn)

    threads = [threading.Thread(target=session, args=pair, daemon=True) for pair in analyses.values()]
    for thread in threads:
        thread.start()
    return threads


def redraws(run_name, keep_going, at_least=3):
    """(seconds of each redraw of the live view of `run_name`, the text it last drew), redrawn back to back while
    `keep_going()` (and at least `at_least` times)."""
    from streamlit.testing.v1 import AppTest

    from app_pages.streamlit_patches import skip_keras_reset

    skip_keras_reset()  # As the server does.
    app = AppTest.from_string(LIVE_VIEW.format(name=run_name), default_timeout=120)
    seconds = []
    while len(seconds) < at_least or keep_going():
        started = time.perf_counter()
        app.run()
        seconds.append(time.perf_counter() - started)
        if app.exception:
            raise RuntimeError(app.exception[0].message)
    return seconds, " ".join(str(element.value) for element in (*app.markdown, *app.caption, *app.metric))


@dataclasses.dataclass
class World:
    """An untrained tiny VGG16 saved in a run folder, its settings, and the generated images it is analysed on."""

    config: object
    runs_dir: pathlib.Path
    model_path: pathlib.Path
    model: object
    dataset: object
    split: tuple

    @classmethod
    def make(cls, folder):
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
        from helpers import tiny_config, write_image_folder
        from vgg.data.cifar10 import load_cifar10
        from vgg.explain.predictor import load_model
        from vgg.model.build import build_from_config

        config = tiny_config()
        data_dir = write_image_folder(folder / "data", per_class=30)
        runs_dir = folder / "runs"
        run = create_run(runs_dir, config, name="analysed", title="Analysed")
        build_from_config(config).save(run.model_path)
        split = (config.validation_size, config.seed)
        model = load_model(run.model_path, runs_dir)
        return cls(config, runs_dir, run.model_path, model, load_cifar10(data_dir, *split), split)

    def analyses(self):
        return tiny_analyses(self.model_path, self.model, self.dataset, self.split)


def summary(seconds):
    return (
        f"median {statistics.median(seconds) * 1000:.0f} ms, worst {max(seconds) * 1000:.0f} ms, {len(seconds)} redraws"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="How long the redraws are timed without a queue.")
    options = parser.parse_args(argv)
    from vgg.model.device import cpu_name, limit_serving_threads

    limit_serving_threads()  # As the server computes.
    with tempfile.TemporaryDirectory() as folder:
        os.environ["VGG_CACHE_DIR"] = str(pathlib.Path(folder) / "cache")
        world = World.make(pathlib.Path(folder))
        os.environ["VGG_RUNS_DIR"] = str(world.runs_dir)
        run, descriptor = watched_run(world.runs_dir, world.config)
        redraws(run.name, lambda: False)  # Warms Streamlit and the view's caches up.
        until = time.perf_counter() + options.seconds
        alone, _ = redraws(run.name, lambda: time.perf_counter() < until)
        analyses = world.analyses()
        started = time.perf_counter()
        threads = start_all(analyses)
        queued, _ = redraws(run.name, lambda: any(thread.is_alive() for thread in threads))
        queue_seconds = time.perf_counter() - started
        os.close(descriptor)
    print(f"CPU: {cpu_name()}")
    print(f"Live view alone:            {summary(alone)}")
    print(f"While 4 analyses queue:     {summary(queued)} over the queue's {queue_seconds:.1f} s")
    for name, (turn, _) in sorted(analyses.items(), key=lambda item: item[1][0].started):
        print(
            f"  {name:15} computed {turn.started - started:5.1f}-{turn.last_report - started:5.1f} s, "
            f"at most {turn.most_ahead} ahead"
        )


if __name__ == "__main__":
    main()
