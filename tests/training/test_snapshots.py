"""Snapshots of a run's weights at a few epochs, and the Inside VGG16 page's Epoch slider that shows them."""

import json

import numpy as np
import pytest

import vgg.training.snapshots
from helpers import generated_images, page_test, tiny_config, train_quietly
from vgg.explain.predictor import Predictor, load_model
from vgg.runs.folder import create_run
from vgg.runs.record import ModelRecord
from vgg.runs.snapshots import (
    epochs_of,
    file_epoch,
    load_epoch,
    logged_accuracies,
    snapshots_dir,
    weights_at,
    why_none,
)
from vgg.training.export import ship_snapshots as ship

# On one worker, so that the five-epoch run trains once.
pytestmark = pytest.mark.xdist_group("snapshots")


def train(runs_dir, image_folder, name, **changes):
    run = create_run(runs_dir, tiny_config(**changes), name=name, data_dir=str(image_folder))
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    return run


@pytest.fixture(scope="module")
def five_epochs(tmp_path_factory, image_folder):
    return train(tmp_path_factory.mktemp("runs"), image_folder, "five", epochs=5)


def test_a_run_keeps_snapshots_at_the_planned_epochs_with_its_shapes(five_epochs):
    model = load_model(five_epochs.model_path, five_epochs.path.parent)
    assert snapshots_dir(five_epochs.model_path) == five_epochs.path / "snapshots"
    assert epochs_of(five_epochs.model_path) == [0, 1, 2, 4, 5]
    for epoch in epochs_of(five_epochs.model_path):
        weights = weights_at(five_epochs.model_path, epoch)
        assert [weight.shape for weight in weights] == [tuple(variable.shape) for variable in model.weights]
        assert all(weight.dtype == np.float16 for weight in weights)
    first_kernel = weights_at(five_epochs.model_path, 0)[0]
    assert not np.allclose(first_kernel, weights_at(five_epochs.model_path, 5)[0], atol=1e-3)


def test_a_model_at_an_epoch_has_its_snapshot_weights_and_answers_otherwise(five_epochs):
    path = five_epochs.model_path
    final = Predictor(load_model(path, five_epochs.path.parent), flip_average=False)
    early = load_epoch(load_model(path, five_epochs.path.parent), path, 0)
    for variable, saved in zip(early.weights, weights_at(path, 0), strict=True):
        np.testing.assert_array_equal(np.asarray(variable), saved.astype(np.float32))
    images, _ = generated_images(3, seed=5)
    before = Predictor(early, flip_average=False).probabilities(images)
    after = final.probabilities(images)
    assert (after.argmax(axis=1) != before.argmax(axis=1)).any() or np.abs(after - before).max() > 0.2


def test_a_resumed_run_keeps_its_earlier_snapshots(tmp_path, image_folder):
    run = train(tmp_path, image_folder, "resumed", epochs=2)
    first = (run.path / "snapshots" / "epoch-000.npz").read_bytes()
    # Two more epochs from the checkpoint: as `--resume` after raising the epochs.
    values = json.loads(run.config_path.read_text()) | {"epochs": 4}
    run.config_path.write_text(json.dumps(values))
    run.model_path.unlink()
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    assert epochs_of(run.model_path) == [0, 1, 2, 4]
    assert (run.path / "snapshots" / "epoch-000.npz").read_bytes() == first


def test_a_too_large_model_keeps_none_and_the_page_says_why(tmp_path, image_folder, monkeypatch):
    monkeypatch.setattr(vgg.training.snapshots, "MAX_SNAPSHOT_BYTES", 1000)
    run = train(tmp_path, image_folder, "large", epochs=1)
    assert epochs_of(run.model_path) == []
    assert "keeps no snapshots" in why_none(run.model_path) and "over the limit" in why_none(run.model_path)
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    app = page_test("inside_page").run()
    app.selectbox(key="inside_model").set_value("Run large (final)").run()
    assert not app.exception
    assert not [slider for slider in app.select_slider if slider.label == "Epoch"]
    assert any("keeps no snapshots of earlier epochs" in caption.value for caption in app.caption)


def shown_answer(app):
    return next(element.value for element in app.markdown if element.value.startswith("The model says"))


def pictures(app):
    return [image.proto.imgs[0].url for image in app.get("image")]


def test_the_inside_page_shows_the_model_at_the_chosen_epoch(app_environment):
    app = page_test("inside_page").run()
    app.session_state["inside_tab"] = "Feature maps"
    app.selectbox(key="inside_model").set_value("Run tiny (final)").run()
    assert not app.exception
    slider = next(slider for slider in app.select_slider if slider.label == "Epoch")
    assert slider.options == ["0 (random weights)", "1", "2", "3 (this model)"]
    assert slider.value == "final"  # Named so in session state and links; the file's own epoch.
    last_answer, last_maps = shown_answer(app), pictures(app)
    slider.set_value("0").run()
    assert not app.exception
    assert shown_answer(app) != last_answer
    assert any("the random weights the run started from" in caption.value for caption in app.caption)
    assert pictures(app) != last_maps
    # The Filters tab at epoch 0: the first layer's random filters, and a word on the deeper pictures.
    app.session_state["inside_tab"] = "Filters"
    app.run()
    assert not app.exception and not app.error
    assert "are colour detectors" in " ".join(element.value for element in app.markdown)
    assert any("computed for the model file only" in info.value for info in app.info)
    assert any("these filters are random numbers" in warning.value for warning in app.warning)
    random_filters = pictures(app)
    next(slider for slider in app.select_slider if slider.label == "Epoch").set_value("final").run()
    assert not app.exception
    assert pictures(app)[: len(random_filters)] != random_filters


def test_the_feature_maps_of_epoch_0_stand_beside_the_trained_ones(app_environment):
    app = page_test("inside_page").run()
    app.session_state["inside_tab"] = "Feature maps"
    app.selectbox(key="inside_model").set_value("Run tiny (final)").run()
    alone = pictures(app)
    app.toggle(key="inside_beside_start").set_value(True).run()
    assert not app.exception
    captions = [image.proto.imgs[0].caption for image in app.get("image")]
    before = next(index for index, caption in enumerate(captions) if caption.startswith("Epoch 0: random weights"))
    assert captions[before + 1].startswith("After training: this model")
    shown = pictures(app)
    assert shown[before] != shown[before + 1], "the random start's maps differ from the trained model's"
    assert len(shown) == len(alone) + 1, "the one grid of maps became two, side by side"


def test_a_shipped_copy_keeps_the_earlier_snapshots_beside_a_float16_model(five_epochs, tmp_path):
    target = ship(five_epochs, tmp_path, "tiny")
    assert target == tmp_path / "tiny.keras" and snapshots_dir(target) == tmp_path / "tiny.snapshots"
    assert epochs_of(target) == [0, 1, 2, 4]  # Epoch 5 is the model file itself.
    assert file_epoch(target) == 5
    assert sorted(logged_accuracies(target)) == [1, 2, 3, 4, 5]  # Kept in the card, for the slider's captions.
    assert ModelRecord.of(target).summary().startswith("VGG16 at width 0.125, trained 5 epochs")
    images, _ = generated_images(2, seed=4)
    shipped = Predictor(load_model(target, tmp_path)).probabilities(images)
    final = Predictor(load_model(five_epochs.model_path, five_epochs.path.parent)).probabilities(images)
    np.testing.assert_allclose(shipped, final, atol=0.02)


def test_a_runs_checkpoint_gets_the_earlier_epochs_then_itself(five_epochs):
    from app_pages.snapshot_view import epoch_stops

    assert five_epochs.checkpoint_path.exists()
    assert list(epoch_stops(five_epochs.checkpoint_path)) == [
        "0 (random weights)",
        "1",
        "2",
        "4",
        "5 (latest checkpoint)",
    ]


def test_snapshots_that_cannot_be_written_never_stop_the_training(tmp_path, image_folder):
    run = create_run(tmp_path, tiny_config(epochs=2), name="blocked", data_dir=str(image_folder))
    (run.path / "snapshots").write_text("a file where the folder should be")
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    assert epochs_of(run.model_path) == [] and "keeps them" in why_none(run.model_path)
