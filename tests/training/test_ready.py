"""Finished means ready (issue 35): a run's training process prepares what the pages would compute on its model's
first view, as a phase of the finished run; its Mistakes and Nearest images then open from the saved files, with
nothing computed on the server; a failure while preparing leaves the run finished, its model kept."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from helpers import PROJECT_ROOT, neighbours_page, page_test, picture_grids, texts, tiny_config
from vgg.core.phases import ANALYSING
from vgg.explain.ready import RUN_VARIABLE
from vgg.explain.turns import ANALYSES
from vgg.runs.folder import create_run
from vgg.runs.status import State
from vgg.training.trainer import train_run

# Its tests share one run's training, on one worker.
pytestmark = pytest.mark.xdist_group("ready")
# What a finished run saves beside its model, one file each (vgg/explain/ready.py): three sets of pictures.
SAVED_KINDS = ["evaluation", "neighbours", "pictures", "pictures", "pictures", "top-images"]


def saved_kinds(run):
    """The kinds of analyses saved beside the run's model: model.<kind>-<SHA-256>-<detail>.npz."""
    return sorted(re.match(r"model\.([a-z-]+)-[0-9a-f]{16}-", path.name)[1] for path in run.path.glob("model.*.npz"))


@pytest.fixture(scope="module")
def ready_run(tmp_path_factory, image_folder):
    """(run, its final status, [(each "Preparing" line, the status then)]): a tiny run trained as a server's
    process trains it, its analyses prepared once it finished."""
    run = create_run(tmp_path_factory.mktemp("runs"), tiny_config(epochs=1), name="ready", data_dir=str(image_folder))
    seen = []

    def progress(message):
        if message.startswith("Preparing "):
            seen.append((message, run.status()))

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RUN_VARIABLE, "1")
        patch.setenv("VGG_DATA_DIR", str(image_folder))  # The server's images, which its runs inherit.
        status = train_run(run, data_dir=image_folder, progress=progress)
    return run, status, seen


def test_a_run_is_finished_with_its_score_while_its_process_prepares_the_pages_analyses(ready_run):
    run, status, seen = ready_run

    assert status.state == State.FINISHED, status.traceback
    assert status.phase is None and status.pid is None and status.phase_seconds[ANALYSING] > 0
    assert [message.split(" for the pages")[0] for message, _ in seen] == [
        "Preparing its answers for Mistakes",
        "Preparing its index for Nearest images",
        "Preparing the top photos of its channels",
        "Preparing the pictures of what each class wants",
        "Preparing the pictures of what block3_conv3's channels want",
        "Preparing the pictures of what block5_conv3's channels want",  # Inside VGG16's task: block 1 against 5.
    ]
    # Meanwhile the run read as finished, its score shown, in the phase `analysing` counting its analyses.
    for _, during in seen:
        assert during.state == State.FINISHED and during.final_accuracy is not None
        assert (during.phase, during.phase_total) == (ANALYSING, 6)
    assert [during.phase_done for _, during in seen] == [0, 1, 2, 3, 4, 5]
    assert saved_kinds(run) == SAVED_KINDS


def test_a_failure_while_preparing_leaves_the_run_finished_with_its_model(tmp_path, image_folder, monkeypatch):
    monkeypatch.setenv(RUN_VARIABLE, "1")
    # The server's image folder (which its training processes inherit) is gone: the pages' images cannot be read.
    monkeypatch.setenv("VGG_DATA_DIR", str(tmp_path / "moved away"))
    run = create_run(tmp_path / "runs", tiny_config(epochs=1), name="unready", data_dir=str(image_folder))
    said = []

    status = train_run(run, data_dir=image_folder, progress=said.append)

    assert status.state == State.FINISHED and status.final_accuracy is not None, status.traceback
    assert status.phase is None and status.error is None
    assert run.model_path.is_file() and saved_kinds(run) == []
    assert any(line.startswith("Its analyses are left to the pages") for line in said), said


def test_a_finished_runs_mistakes_and_nearest_images_open_from_saved_files_computing_nothing(
    ready_run, image_folder, monkeypatch
):
    """The done-when test of issue 35: a run that finished like any run, opened as a student would."""
    tiny_run = ready_run[0]
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(tiny_run.path.parent))
    monkeypatch.chdir(PROJECT_ROOT)
    assert saved_kinds(tiny_run) == SAVED_KINDS
    saved = {path: path.stat().st_mtime_ns for path in tiny_run.path.glob("*.npz")}
    computed = ANALYSES.given  # Every analysis a page computes takes a turn in this process's line.

    mistakes = page_test("mistakes_page")
    mistakes.query_params["model"] = "Run ready (final)"
    mistakes.run()
    assert not mistakes.exception and not mistakes.error
    assert [metric.label for metric in mistakes.metric] == ["Accuracy"]
    assert mistakes.get("plotly_chart"), "no confusion matrix"
    assert "Computing" not in texts(mistakes)

    nearest = AppTest.from_function(neighbours_page, args=(str(tiny_run.model_path),), default_timeout=120).run()
    assert not nearest.exception and not nearest.error
    assert "Block 5's 8 nearest training images vote" in texts(nearest)
    assert [len(row) for row in picture_grids(nearest)] == [8] * 5
    assert "Computing" not in texts(nearest)

    # Inside VGG16's task compares block 1's filters with block 5's: block 5's pictures are read back too.
    inside = page_test("inside_page")
    inside.query_params.update(model="Run ready (final)", tab="Filters")
    inside.run()
    inside.selectbox(key="filter_layer").set_value("block5_conv3").run()
    assert not inside.exception and not inside.error
    assert "What each channel of Block 5, conv 3 wants" in texts(inside)
    assert "Computing" not in texts(inside)

    assert ANALYSES.given == computed, "a page computed an analysis instead of reading the run's"
    assert {path: path.stat().st_mtime_ns for path in tiny_run.path.glob("*.npz")} == saved
