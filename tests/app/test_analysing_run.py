"""A finished run whose process still prepares its analyses (vgg/explain/ready.py): the Train page shows it finished,
with the preparing phase's progress and the link to its mistakes; once its process ends, the phase is gone."""

import os
import time

from helpers import PROJECT_ROOT, page_test, tiny_config
from vgg.core import locks
from vgg.core.phases import ANALYSING
from vgg.runs.folder import create_run
from vgg.runs.metrics import EpochRow, row_line
from vgg.runs.status import State


def progress_texts(app):
    return [element.proto.text for element in app.get("progress")]


def test_the_train_page_shows_a_finished_run_preparing_its_analyses(tmp_path, monkeypatch, image_folder):
    run = create_run(tmp_path, tiny_config(), name="done", title="Done")
    run.metrics_path.write_text(row_line(EpochRow(10, 1, 2.0, 0.3, 1.9, 0.4, 0.05, 100.0, 5.0)))
    run.model_path.write_bytes(b"")  # Its final model, saved (the page only links to it).
    descriptor = locks.acquire(run.lock_path)  # Its training process, alive while it prepares.
    run.update_status(
        state=State.FINISHED,
        final_accuracy=0.4,
        phase=ANALYSING,
        phase_started=time.time(),
        phase_done=2,
        phase_total=5,
    )
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    try:
        app = page_test("train_page").run()
        assert not app.exception
        assert any("**Done** is **finished**" in markdown.value for markdown in app.markdown)
        assert (
            "Finished · preparing its analyses for Mistakes and Inside VGG16: 2 of 5 ready, so they open at once…"
            in progress_texts(app)
        )
        assert any("See this model's mistakes" in markdown.value for markdown in app.markdown)
    finally:
        os.close(descriptor)
    # Its process ended (here before writing its last status: killed): the page no longer says it prepares.
    app.run()
    assert not app.exception
    assert not any("preparing its analyses" in text for text in progress_texts(app))
