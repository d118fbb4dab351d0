"""The model pages through Streamlit's AppTest, over the tiny trained run: they render, their controls are there,
and they do their job."""

import numpy as np
import pytest

from app_pages.plain import plain
from helpers import generated_images, notices, page_test, png_bytes, texts, train_quietly
from vgg.classroom.launch import stop_active_runs, wait_for
from vgg.runs.folder import list_runs, open_run
from vgg.runs.naming import name_of


@pytest.mark.parametrize(
    ("module", "folded"), [("train_page", "Settings and Start"), ("inside_page", "Model, epoch and image")]
)
def test_the_presenter_view_folds_the_choosers_away_so_the_chart_or_picture_comes_first(
    app_environment, module, folded
):
    app = page_test(module)
    app.session_state["presenter"] = True
    app.run()
    assert not app.exception
    assert [expander.label for expander in app.expander][:1] == [folded]
    # The choices are still there, folded: the teacher opens them to start a run or change the image.
    assert app.expander[0].get("selectbox")
    plain = page_test(module).run()
    assert folded not in [expander.label for expander in plain.expander]


def test_inside_page_shows_architecture_feature_maps_and_filters(app_environment):
    app = page_test("inside_page").run()
    assert not app.exception
    app.selectbox(key="inside_model").set_value("Run tiny (final)").run()
    assert len(app.expander) == 5
    assert "receptive field" in app.expander[0].label and "at 32x32, pooled to 16x16" in app.expander[0].label
    assert "(the whole image)" in app.expander[4].label
    assert "feature_layer" not in [slider.key for slider in app.get("select_slider")], "a closed tab was drawn"
    app.session_state["inside_tab"] = "Feature maps"
    app.run()
    assert app.select_slider(key="feature_layer").value == "block1_conv1"
    app.select_slider(key="feature_layer").set_value("block5_pool").run()
    assert not app.exception
    assert "Block 5, pooled (1x1)" in texts(app)
    assert "The model says" in texts(app)
    # Every block at a glance says how many of its channels are silent for this image.
    assert texts(app).count("channels are zero for this image") >= 5
    # Another tab and back: the chosen layer is still chosen.
    app.session_state["inside_tab"] = "Architecture"
    app.run()
    app.session_state["inside_tab"] = "Feature maps"
    app.run()
    assert app.select_slider(key="feature_layer").value == "block5_pool"


def test_predict_page_predicts_an_upload_and_refuses_a_non_image(app_environment):
    images, labels = generated_images(per_class=1, seed=5)
    ship = images[list(labels).index(8)]
    big_ship = np.repeat(np.repeat(ship, 10, axis=0), 10, axis=1)  # 320x320: the page must shrink it.
    app = page_test("predict_page").run()
    assert not app.exception
    # The tiny run knows the generated classes; the shipped model, if any, knows real photos.
    app.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    uploader = app.get("file_uploader")[0]
    uploader.set_value(
        [("ship.png", png_bytes(big_ship), "image/png"), ("notes.png", b"hello, not an image", "image/png")]
    ).run()
    assert not app.exception
    assert "ship.png: **ship**" in texts(app)
    assert "notes.png is not an image that can be read" in app.error[0].value
    assert len(app.get("plotly_chart")) == 1, "one top-5 chart, for the one real image"


def test_train_page_runs_a_tiny_training_to_the_end(app_environment, tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    app = page_test("train_page").run()
    assert not app.exception
    assert "No runs yet" in texts(app)
    for label in ("VGG variant", "Optimizer"):
        assert any(box.label == label for box in app.selectbox)
    app.selectbox(key="preset").set_value("cpu").run()
    app.select_slider(key="cpu_width").set_value(0.125)
    app.select_slider(key="cpu_batch_size").set_value(32)
    app.number_input(key="cpu_epochs").set_value(2)
    app.select_slider(key="cpu_cutout_size").set_value(8)
    app.button(key="start").click().run()
    assert not app.exception, app.exception
    runs = list_runs(runs_dir)
    assert len(runs) == 1
    run = runs[0]
    assert run.config().width == 0.125 and run.config().epochs == 2 and run.config().cutout_size == 8
    status = wait_for(run, ("finished", "failed", "interrupted"), 240)
    assert status.state == "finished", status
    app.run()
    assert f"**{plain(name_of(run, with_owner=False))}** is **finished**" in texts(app)
    assert len(run.metrics().rows()) > 2
    assert app.get("plotly_chart")


def test_train_page_queues_a_second_start_cancels_it_and_stops_the_run(
    app_environment, tmp_path, monkeypatch, image_folder, request
):
    from helpers import tiny_config
    from vgg.classroom.launch import launch

    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    run, process = launch(
        runs_dir, "long", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder, title="long"
    )
    request.addfinalizer(lambda: stop_active_runs(runs_dir))
    assert wait_for(run, ("running",), 120).state == "running"
    app = page_test("train_page").run()
    assert not app.exception
    assert app.button(key="start").label == "Queue run"
    assert "**long** is training" in texts(app)
    app.button(key="start").click().run()
    assert not app.exception
    queued = [run for run in list_runs(runs_dir) if run.status().state == "queued"]
    assert len(queued) == 1, [run.status().state for run in list_runs(runs_dir)]
    assert "is in the queue" in texts(app) and "**1.**" in texts(app)
    app.button(key=f"cancel_{queued[0].name}").click().run()
    assert queued[0].status().state == "stopped" and "**1.**" not in texts(app)
    # The address keeps the run last shown (the cancelled one): the view goes back to the training one.
    next(box for box in app.selectbox if box.label == "Show run").set_value("long").run()
    app.button(key="stop_long").click().run()
    assert process.wait(timeout=120) == 0
    assert open_run(runs_dir, "long").status().state == "stopped"
    app.run()
    assert sorted(app.dataframe[0].value["state"]) == ["stopped", "stopped"]
    assert "is in the queue" not in texts(app) and app.button(key="start").label == "Start training"
    assert any(button.label == "Resume" for button in app.button)


def test_train_page_says_a_finished_model_is_an_average_of_epochs(app_environment, tmp_path, monkeypatch, image_folder):
    from helpers import tiny_config
    from vgg.runs.folder import create_run

    runs_dir = tmp_path / "runs"
    run = create_run(runs_dir, tiny_config(epochs=3, average_from_epoch=2, augment=True), name="averaged")
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    app = page_test("train_page").run()
    assert not app.exception
    # The epoch metrics are each epoch's own weights; the caption names the model the run finished with.
    assert f"Finished model, the average of the weights of its last 2 epochs: **{status.final_accuracy:.1%}**" in texts(
        app
    )


def test_an_older_inside_link_is_translated_into_the_pages_class_and_index():
    from app_pages.old_links import translated_old_link

    labels = np.array([3, 5, 3, 3, 0])
    old = {"model": "Run tiny (final)", "image": "val:3", "me": "Ann"}
    # Position 3 is the third cat (number 2, counted from 0 as the image chooser does).
    assert translated_old_link(old, labels) == {"model": "Run tiny (final)", "me": "Ann", "class": "cat", "index": "2"}
    assert translated_old_link({"image": "val:1"}, labels) == {"class": "dog", "index": "0"}
    for broken in ({"image": "val:5"}, {"image": "val:x"}, {"image": "train:1"}, {"image": "val:1", "split": "100-1"}):
        assert translated_old_link(broken, labels) is None


def test_a_link_opens_an_image_on_the_inside_page_and_a_broken_one_says_so(app_environment, image_folder):
    from vgg.data.cifar10 import load_cifar10

    dataset = load_cifar10(image_folder)
    position = int(np.flatnonzero(dataset.y_val == 3)[2])  # The third cat of the validation images.
    app = page_test("inside_page")
    app.query_params["model"] = "Run tiny (final)"
    app.query_params["image"] = f"val:{position}"
    app.run()
    assert not app.exception
    assert app.selectbox(key="inside_model").value == "Run tiny (final)"
    assert app.selectbox(key="inside_image_class").value == "cat"
    assert app.number_input(key="inside_image_index").value == 2
    # The address now names the view in the page's own parameters, so a reload or a shared link opens it too.
    assert "image" not in app.query_params and app.query_params["class"] == "cat"
    broken = page_test("inside_page")
    broken.query_params["image"] = "val:99999"
    broken.run()
    assert not broken.exception
    assert notices(broken) == [
        f"The link's image ({plain('val:99999')}) is not among this server's validation images; choose one below."
    ]
