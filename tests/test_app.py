"""Every page through Streamlit's AppTest: it renders, its controls are there, and it does its job."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import vgg.runs.record
from conftest import PROJECT_ROOT, generated_images, page_test, png_bytes
from vgg.classroom.launch import stop_active_runs, wait_for
from vgg.runs.folder import list_runs, open_run


def notices(app):
    """The page's blue notices, without its "Try this" task."""
    return [element.value for element in app.info if not element.value.startswith("**Try this:**")]


def texts(app):
    return " ".join(
        [element.value for element in app.markdown]
        + [element.value for element in app.caption]
        + [element.value for element in app.info]
        + [element.value for element in app.warning]
        + [element.value for element in app.error]
        + [element.value for element in app.success]
        + [element.value for element in app.title]
    )


def test_entry_file_routes_to_the_data_page(app_environment, image_folder):
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not app.exception
    assert app.title[0].value == "CIFAR-10"
    assert "10 classes, 32x32 pixels each" in texts(app)
    # A server path tells students nothing: the caption no longer shows it.
    assert str(image_folder) not in texts(app)


def test_the_presenter_view_enlarges_the_text_and_stays_in_the_address(app_environment):
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params["present"] = "1"
    app.run()
    assert not app.exception
    styles = " ".join(element.proto.body for element in app.get("html"))
    assert "font-size: 20px" in styles and app.toggle(key="presenter").value
    app.toggle(key="presenter").set_value(False).run()
    assert "font-size: 20px" not in " ".join(element.proto.body for element in app.get("html"))
    assert "present" not in app.query_params


@pytest.mark.parametrize(("module", "folded"), [("train_page", "Settings and Start"),
                                                ("inside_page", "Model, epoch and image")])
def test_the_presenter_view_folds_the_choosers_away_so_the_chart_or_picture_comes_first(app_environment, module,
                                                                                        folded):
    app = page_test(module)
    app.session_state["presenter"] = True
    app.run()
    assert not app.exception
    assert [expander.label for expander in app.expander][:1] == [folded]
    # The choices are still there, folded: the teacher opens them to start a run or change the image.
    assert app.expander[0].get("selectbox")
    plain = page_test(module).run()
    assert folded not in [expander.label for expander in plain.expander]


def test_data_page_browses_classes_and_shows_a_sample_up_close(app_environment):
    app = page_test("data_page").run()
    assert not app.exception
    assert app.pills(key="data_classes").value == [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
    ]
    app.pills(key="data_classes").set_value(["cat", "ship"]).run()
    assert not app.exception
    assert app.subheader[0].value.startswith("Up close:")
    # The augmented copies come after the original, each captioned with what was done to it.
    assert "**original**" in texts(app)
    plain_copies = [image.proto.imgs[0].url for image in app.get("image")[-7:]]
    app.select_slider(key="cutout_size").set_value(12).run()
    assert not app.exception
    assert [image.proto.imgs[0].url for image in app.get("image")[-7:]] != plain_copies
    assert texts(app).count("cutout") >= 7
    new_copies = next(button for button in app.button if button.label == "New random copies")
    new_copies.click().run()
    assert app.session_state["augment_draw"] == 1
    reshuffle = next(button for button in app.button if button.label == "Reshuffle")
    reshuffle.click().run()
    assert app.session_state["data_seed"] == 1
    app.pills(key="data_classes").set_value([]).run()
    assert not app.exception and "Pick at least one class" in texts(app)


def test_data_page_without_data_says_how_to_get_it(app_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_DATA_DIR", str(tmp_path / "nowhere"))
    app = page_test("data_page").run()
    assert not app.exception
    assert "root/train/<class>" in app.warning[0].value


def test_inside_page_shows_architecture_feature_maps_and_filters(app_environment):
    app = page_test("inside_page").run()
    assert not app.exception
    app.selectbox(key="inside_model").set_value("Run tiny (final)").run()
    assert len(app.expander) == 5
    assert "receptive field" in app.expander[0].label and "at 32x32, pooled to 16x16" in app.expander[0].label
    assert "(the whole image)" in app.expander[4].label
    assert app.select_slider(key="feature_layer").value == "block1_conv1"
    app.select_slider(key="feature_layer").set_value("block5_pool").run()
    assert not app.exception
    assert "Block 5, pooled (1x1)" in texts(app)
    assert "The model says" in texts(app)
    # Every block at a glance says how many of its channels are silent for this image.
    assert texts(app).count("channels are zero for this image") >= 5


def test_model_pages_without_any_model_say_how_to_get_one(app_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(vgg.runs.record, "SHIPPED_MODEL", tmp_path / "none.keras")
    monkeypatch.setattr(vgg.runs.record, "SNAPSHOT_MODEL", tmp_path / "none-either.keras")
    for module in ("inside_page", "predict_page"):
        app = page_test(module).run()
        assert not app.exception
        assert "No trained model yet" in notices(app)[0]


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


@pytest.mark.slow
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
    assert f"**{run.name}** is **finished**" in texts(app)
    assert len(run.metrics().rows()) > 2
    assert app.get("plotly_chart")


@pytest.mark.slow
def test_train_page_queues_a_second_start_cancels_it_and_stops_the_run(
    app_environment, tmp_path, monkeypatch, image_folder, request
):
    from conftest import subprocess_environment, tiny_config
    from vgg.classroom.launch import launch

    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("PYTHONPATH", subprocess_environment()["PYTHONPATH"])
    run, process = launch(runs_dir, "long", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
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


@pytest.mark.slow
def test_train_page_says_a_finished_model_is_an_average_of_epochs(app_environment, tmp_path, monkeypatch, image_folder):
    from conftest import tiny_config
    from vgg.runs.folder import create_run
    from vgg.training.trainer import train_run

    runs_dir = tmp_path / "runs"
    run = create_run(runs_dir, tiny_config(epochs=3, average_from_epoch=2, augment=True), name="averaged")
    status = train_run(run, data_dir=image_folder, progress=lambda message: None)
    assert status.state == "finished", status.traceback
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    app = page_test("train_page").run()
    assert not app.exception
    # The epoch metrics are each epoch's own weights; the caption names the model the run finished with.
    assert (f"Finished model, the average of the weights of its last 2 epochs: **{status.final_accuracy:.1%}**"
            in texts(app))


def test_an_older_inside_link_is_translated_into_the_pages_class_and_index():
    from app_pages.inside_page import translated_old_link

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
        "The link's image (val:99999) is not among this server's validation images; choose one below."
    ]
