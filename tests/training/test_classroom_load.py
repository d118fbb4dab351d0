"""Thirty students on one server: what a rerun or another session costs. Uploads are decoded and predicted
once per file, the training chart is built once per change for every session, and no page loads TensorFlow
to draw the Data page."""

import subprocess
import sys

import numpy as np

import app_pages.run_view
import vgg.data.uploads
import vgg.explain.predictor
from helpers import PROJECT_ROOT, counting, generated_images, page_test, png_bytes, subprocess_environment, tiny_config
from vgg.classroom.launch import launch, stop_active_runs, wait_for
from vgg.runs.status import State


def photos(count, seed):
    images, _ = generated_images(per_class=max(1, count // 10 + 1), seed=seed)
    return [
        (f"photo-{seed}-{index}.png", png_bytes(np.repeat(np.repeat(image, 4, 0), 4, 1)), "image/png")
        for index, image in enumerate(images[:count])
    ]


def test_a_rerun_decodes_and_predicts_no_upload_again(app_environment, monkeypatch):
    decodes = counting(monkeypatch, vgg.data.uploads, "load_upload")
    predictions = counting(monkeypatch, vgg.explain.predictor.Predictor, "top_k")
    app = page_test("predict_page").run()
    app.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    app.get("file_uploader")[0].set_value(photos(2, seed=21)).run()
    assert not app.exception and len(app.get("plotly_chart")) == 2
    assert len(decodes) == 2 and len(predictions) == 2
    # A toggle reruns the page: nothing is decoded or predicted again.
    app.toggle(key="predict_camera_on").set_value(True).run()
    app.toggle(key="predict_camera_on").set_value(False).run()
    assert not app.exception and len(app.get("plotly_chart")) == 2
    assert len(decodes) == 2, "a rerun decoded the uploads again"
    assert len(predictions) == 2, "a rerun predicted the uploads again"
    # A second session uploading the same photos reads them from the shared cache too.
    other = page_test("predict_page").run()
    other.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    other.get("file_uploader")[0].set_value(photos(2, seed=21)).run()
    assert len(decodes) == 2 and len(predictions) == 2 and len(other.get("plotly_chart")) == 2


def test_more_than_twenty_photos_get_one_sentence(app_environment):
    app = page_test("predict_page").run()
    app.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    app.get("file_uploader")[0].set_value(photos(21, seed=22)).run()
    assert not app.exception
    # A photo of noise may also be called unsure or a guess, in its own sentence; the count is said once.
    assert [warning.value for warning in app.warning if "you chose" in warning.value] == [
        "At most 20 photos are shown at once: you chose 21, so the first 20 are shown below; remove some to see "
        "the others."
    ]
    assert len(app.get("plotly_chart")) == 20


def test_the_training_chart_is_built_once_for_many_sessions(app_environment, tmp_path, monkeypatch, image_folder):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    run, process = launch(tmp_path, "watched", config=tiny_config(epochs=1), data_dir=image_folder)
    assert process.wait(timeout=300) == 0 and wait_for(run, (State.FINISHED,), 10).state == State.FINISHED
    figures = counting(monkeypatch, app_pages.run_view, "training_figure")
    app_pages.run_view.shared_figure.clear()
    sessions = [page_test("train_page").run() for _ in range(5)]
    assert all(not session.exception and session.get("plotly_chart") for session in sessions)
    assert len(figures) == 1, f"{len(figures)} figures built for 5 sessions watching one unchanged run"
    # A new metrics line (the run moved on) builds it once more, for everyone.
    with open(run.metrics_path, "a") as file:
        file.write(run.metrics_path.read_text().splitlines()[-1] + "\n")
    for session in sessions:
        session.run()
    assert len(figures) == 2
    stop_active_runs(tmp_path)


def test_the_data_page_draws_without_loading_tensorflow(image_folder, trained_runs_dir):
    script = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "app = AppTest.from_file('streamlit_app.py', default_timeout=120).run()\n"
        "assert not app.exception, app.exception\n"
        "assert app.title[0].value == 'CIFAR-10'\n"
        "print('tensorflow' in sys.modules)\n"
    )
    environment = subprocess_environment(VGG_DATA_DIR=image_folder, VGG_RUNS_DIR=trained_runs_dir)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False", "drawing the Data page imported TensorFlow"
