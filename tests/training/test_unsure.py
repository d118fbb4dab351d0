"""Predict's 'unsure': the threshold saved with a model (the 5th percentile of its top probability on its validation
images, as Predict computes it) and the page's sentences beside each answer."""

import json
import shutil

import numpy as np
import pytest

from helpers import PROJECT_ROOT, page_test, png_bytes
from vgg.data.cifar10 import load_cifar10
from vgg.data.uploads import load_upload
from vgg.explain.predictor import Predictor, evaluate, load_model
from vgg.runs.folder import open_run
from vgg.runs.record import ModelRecord

TEN_CLASSES = "It must name one of its 10 classes whatever the image"


def fifth_percentile(values):
    """The 5th percentile by hand: linear interpolation between the two sorted values around position 0.05 (n - 1)."""
    ordered = sorted(values)
    position = 0.05 * (len(ordered) - 1)
    low = int(position)
    return ordered[low] + (position - low) * (ordered[min(low + 1, len(ordered) - 1)] - ordered[low])


def tiny_run_data(runs_dir, data_dir):
    run = open_run(runs_dir, "tiny")
    config = run.config()
    dataset = load_cifar10(data_dir, validation_size=config.validation_size, seed=config.seed)
    return run, dataset


def top_probabilities_one_by_one(predictor, images):
    return [predictor.top_k(image, k=1)[0].probability for image in images]


def test_a_finished_run_saves_the_5th_percentile_of_its_top_probabilities(trained_runs_dir, image_folder):
    run, dataset = tiny_run_data(trained_runs_dir, image_folder)
    saved = run.status().final_unsure_below
    assert saved is not None, "final_score saved the threshold in status.json"
    assert ModelRecord.of(run.model_path).unsure_below == saved
    predictor = Predictor.for_file(run.model_path, trained_runs_dir)
    top = top_probabilities_one_by_one(predictor, dataset.x_val)
    assert saved == pytest.approx(fifth_percentile(top), abs=1e-5)
    # 5 of its 100 validation images are below it, as Predict would say of them.
    assert sum(probability < saved for probability in top) == 5


def test_with_mirror_images_the_threshold_is_of_the_averaged_probabilities(trained_runs_dir, image_folder):
    run, dataset = tiny_run_data(trained_runs_dir, image_folder)
    model = load_model(run.model_path, trained_runs_dir)
    averaged = top_probabilities_one_by_one(Predictor(model, flip_average=True), dataset.x_val)
    single = top_probabilities_one_by_one(Predictor(model, flip_average=False), dataset.x_val)
    result = evaluate(model, dataset.x_val, dataset.y_val, flip_average=True)
    assert result["unsure_below"] == pytest.approx(fifth_percentile(averaged), abs=1e-5)
    assert fifth_percentile(averaged) != pytest.approx(fifth_percentile(single), abs=1e-5)


def texts(app):
    return " ".join(element.value for kind in ("markdown", "caption", "warning") for element in app.get(kind))


def upload(app, name, pixels):
    app.get("file_uploader")[0].set_value([(name, png_bytes(pixels), "image/png")]).run()
    assert not app.exception
    return texts(app)


def least_and_most_sure(runs_dir, data_dir):
    """The tiny run's validation images that Predict is least and most sure of, probed as the page decodes them."""
    run, dataset = tiny_run_data(runs_dir, data_dir)
    predictor = Predictor.for_file(run.model_path, runs_dir)
    seen = [load_upload(png_bytes(image))[1] for image in dataset.x_val]
    top = top_probabilities_one_by_one(predictor, seen)
    return dataset.x_val[int(np.argmin(top))], min(top), dataset.x_val[int(np.argmax(top))], max(top)


def test_predict_says_unsure_below_the_threshold_only_and_always_that_it_must_name_a_class(
    app_environment, image_folder
):
    threshold = ModelRecord.of(app_environment / "tiny" / "model.keras").unsure_below
    low, low_top, high, high_top = least_and_most_sure(app_environment, image_folder)
    assert low_top < threshold < high_top
    app = page_test("predict_page").run()
    app.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    shown = upload(app, "doubtful.png", low)
    assert "The network is unsure" in shown and f"at least {threshold:.0%}" in shown
    assert f"{low_top:.0%} is less than" in shown
    assert TEN_CLASSES in shown
    shown = upload(app, "clear.png", high)
    assert "unsure" not in shown
    assert TEN_CLASSES in shown


def test_a_model_without_a_threshold_says_nothing_of_unsureness_but_still_that_it_must_name_a_class(
    app_environment, image_folder, tmp_path, monkeypatch
):
    low, _, _, _ = least_and_most_sure(app_environment, image_folder)
    old = tmp_path / "runs"
    shutil.copytree(app_environment, old)
    status_file = old / "tiny" / "status.json"
    status = json.loads(status_file.read_text())
    del status["final_unsure_below"]  # As a run that finished before the threshold was saved.
    status_file.write_text(json.dumps(status))
    monkeypatch.setenv("VGG_RUNS_DIR", str(old))
    assert ModelRecord.of(old / "tiny" / "model.keras").unsure_below is None
    app = page_test("predict_page").run()
    app.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    shown = upload(app, "doubtful.png", low)
    assert "unsure" not in shown and TEN_CLASSES in shown


def test_mistakes_inspect_maps_block_3_first(monkeypatch, image_folder, trained_runs_dir, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(trained_runs_dir, runs)  # The page saves its evaluation beside the model: not in the shared runs.
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs))
    monkeypatch.chdir(PROJECT_ROOT)
    app = page_test("mistakes_page").run()
    app.selectbox(key="mistakes_model").set_value("Run tiny (final)").run()
    app.selectbox(key="mistakes_true").set_value("cat").run()
    app.selectbox(key="mistakes_called").set_value("cat").run()
    inspect = next(button for button in app.button if (button.key or "").startswith("cell_cat_cat_inspect_"))
    inspect.click().run()
    assert not app.exception
    captions = " ".join(element.value for element in app.caption)
    assert "on a grid of 8x8 regions (block 3)." in captions, captions


def test_an_exported_card_states_the_threshold_its_run_saved(trained_runs_dir, tmp_path):
    from vgg.training.export import export_run

    run = open_run(trained_runs_dir, "tiny")
    card = export_run(run, None, assets_dir=tmp_path)
    assert card["unsure_below"] == pytest.approx(run.status().final_unsure_below, abs=1e-6)
    assert ModelRecord.of(tmp_path / "vgg16_cifar10.keras").unsure_below == card["unsure_below"]
    limits = (tmp_path / "MODEL_CARD.md").read_text().split("## Limits")[1]
    assert f"95% of the validation images get a top probability above {card['unsure_below']:.0%}" in limits
