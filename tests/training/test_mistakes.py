"""The Mistakes page and vgg.explain.evaluation: the saved evaluation of a model on its validation split, its
confusion matrix and cells, when it is reused and when it is computed again, and the page through AppTest."""

import dataclasses
import shutil
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from helpers import PROJECT_ROOT
from vgg.core.config import DEFAULT_SPLIT
from vgg.data.cifar10 import load_cifar10
from vgg.explain.evaluation import (
    evaluation_key,
    evaluation_of,
    load_saved,
    split_for,
    split_id,
)
from vgg.explain.predictor import Predictor, evaluate, load_model
from vgg.runs.record import SHIPPED_MODEL, ModelRecord


@pytest.fixture
def runs_copy(tmp_path, trained_runs_dir):
    """A copy of the tiny run's folder: evaluations saved beside its model stay out of the shared fixture."""
    shutil.copytree(trained_runs_dir, tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture
def tiny(runs_copy, image_folder):
    """The tiny run's model file, its loaded model, its validation split and that split's key."""
    path = runs_copy / "tiny" / "model.keras"
    validation_size, seed = split_for(path)
    dataset = load_cifar10(image_folder, validation_size, seed)
    model = load_model(path, runs_copy)
    key = evaluation_key(path, split_id(dataset, validation_size, seed))
    key.file.unlink(missing_ok=True)  # Saved by a page test that opened the Mistakes page on the shared run.
    return dataclasses.make_dataclass("Tiny", ["path", "model", "dataset", "key", "flip_average"])(
        path, model, dataset, key, ModelRecord.of(path).flip_average
    )


class CountingLoader:
    """Hands out the model and counts how often it was asked for: a read-back must not need it."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self):
        self.calls += 1
        return self.model


def relabelled(dataset, shift):
    """The same images with every label moved by `shift` classes: a split on which the tiny model errs everywhere."""
    return dataclasses.replace(dataset, y_val=(dataset.y_val + shift) % len(dataset.class_names))


def test_a_run_is_scored_on_its_own_split(tiny):
    config = ModelRecord.of(tiny.path).config
    assert split_for(tiny.path) == (config.validation_size, config.seed) == (100, 0)
    assert len(tiny.dataset.y_val) == 100


@pytest.mark.parametrize("flip_average", [False, True])
def test_matrix_counts_match_evaluate(tiny, flip_average):
    dataset = relabelled(tiny.dataset, 0)
    evaluation, problem = evaluation_of(tiny.key, dataset, lambda: tiny.model, flip_average)
    assert problem is None
    expected = evaluate(tiny.model, dataset.x_val, dataset.y_val, flip_average=flip_average)
    assert evaluation.confusion.tolist() == expected["confusion_matrix"]
    report = evaluation.report()
    assert report["per_class_accuracy"] == pytest.approx(expected["per_class_accuracy"])
    for name in ("accuracy", "single_view_accuracy"):
        assert report[name] == pytest.approx(expected[name])
    assert (report["flip_average"], report["images"]) == (expected["flip_average"], expected["images"])
    assert evaluation.confusion.sum() == len(dataset.y_val)
    recall = np.diag(evaluation.confusion) / evaluation.confusion.sum(axis=1)
    assert np.allclose(np.nan_to_num(evaluation.recall), np.nan_to_num(recall))


def test_a_cells_gallery_holds_exactly_the_images_of_that_true_and_predicted_class(tiny):
    dataset = relabelled(tiny.dataset, 3)
    evaluation, _ = evaluation_of(tiny.key, dataset, lambda: tiny.model, tiny.flip_average)
    predicted = Predictor(tiny.model, flip_average=False).probabilities(dataset.x_val).argmax(axis=1)
    classes = len(dataset.class_names)
    seen = []
    for true in range(classes):
        for called in range(classes):
            cell = evaluation.cell(true, called)
            expected = np.flatnonzero((dataset.y_val == true) & (predicted == called))
            assert sorted(cell.tolist()) == expected.tolist()
            confidence = evaluation.probabilities[cell, called]
            assert np.all(np.diff(confidence) <= 0), "most confident first"
            seen += cell.tolist()
    assert sorted(seen) == list(range(len(dataset.y_val)))
    mistakes = evaluation.confident_mistakes()
    assert sorted(mistakes.tolist()) == np.flatnonzero(predicted != dataset.y_val).tolist()
    assert np.all(np.diff(evaluation.confidence[mistakes]) <= 0)
    off_diagonal = evaluation.confusion - np.diag(np.diag(evaluation.confusion))
    worst = int(off_diagonal[0].argmax())
    assert evaluation.most_confused(0) == (worst, int(off_diagonal[0, worst]))
    true, called = evaluation.most_frequent_mistake()
    assert true != called and evaluation.confusion[true, called] == off_diagonal.max()


def test_the_saved_evaluation_is_read_back_without_the_model(tiny):
    loader = CountingLoader(tiny.model)
    first, _ = evaluation_of(tiny.key, tiny.dataset, loader, tiny.flip_average)
    assert loader.calls == 1 and tiny.key.file.exists()
    assert tiny.key.file.parent == tiny.path.parent, "a run's evaluation lives in its run folder"
    saved_at = tiny.key.file.stat().st_mtime_ns
    again, _ = evaluation_of(tiny.key, tiny.dataset, loader, tiny.flip_average)
    assert loader.calls == 1, "the second call ran the model"
    assert tiny.key.file.stat().st_mtime_ns == saved_at
    assert np.array_equal(again.probabilities, first.probabilities)
    assert np.array_equal(again.confusion, first.confusion)


def test_two_sessions_asking_at_once_run_the_model_once(tiny):
    loader = CountingLoader(tiny.model)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(evaluation_of(tiny.key, tiny.dataset, loader, tiny.flip_average)[0])
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == 1 and len(results) == 3
    assert all(np.array_equal(result.confusion, results[0].confusion) for result in results)


def test_a_changed_model_file_is_evaluated_again(tiny):
    evaluation_of(tiny.key, tiny.dataset, lambda: tiny.model, tiny.flip_average)
    old_file = tiny.key.file
    # The classifier's last bias pushed hard towards class 0: another file, and other answers.
    last = tiny.model.layers[-1]
    weights = last.get_weights()
    weights[-1] = weights[-1] + 100.0 * (np.arange(len(weights[-1])) == 0)
    last.set_weights(weights)
    tiny.model.save(tiny.path)
    key = evaluation_key(tiny.path, tiny.key.detail)
    assert key.file != old_file
    loader = CountingLoader(tiny.model)
    evaluation, _ = evaluation_of(key, tiny.dataset, loader, tiny.flip_average)
    assert loader.calls == 1
    assert (evaluation.predictions == 0).all()
    assert not old_file.exists(), "the old file's evaluation is removed once the model changed"


def damage_with_random_bytes(file):
    file.write_bytes(np.random.default_rng(0).bytes(5000))


def damage_by_cutting_short(file):
    file.write_bytes(file.read_bytes()[:1000])


def rewrite(file, **changes):
    with np.load(file) as saved:
        arrays = {name: saved[name] for name in saved.files} | changes
    with open(file, "wb") as handle:
        np.savez(handle, **arrays)


def rewrite_only(file, **arrays):
    with open(file, "wb") as handle:
        np.savez(handle, **arrays)


DAMAGES = {
    "random bytes": damage_with_random_bytes,
    "cut short": damage_by_cutting_short,
    "probabilities of the wrong shape": lambda file: rewrite(file, probabilities=np.full((100, 3), 1 / 3)),
    "labels of other images": lambda file: rewrite(file, labels=np.zeros(100, dtype=np.int64)),
    "probabilities that are not": lambda file: rewrite(file, probabilities=np.full((100, 10), np.nan)),
    "no metadata": lambda file: rewrite(file, meta=np.array("[]")),
    "an array missing": lambda file: rewrite_only(file, probabilities=np.full((100, 10), 0.1)),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_saved_evaluation_is_computed_again_not_shown(tiny, damage):
    good, _ = evaluation_of(tiny.key, tiny.dataset, lambda: tiny.model, tiny.flip_average)
    DAMAGES[damage](tiny.key.file)
    assert load_saved(tiny.key, tiny.dataset.y_val, tiny.dataset.class_names, tiny.flip_average) is None
    loader = CountingLoader(tiny.model)
    again, problem = evaluation_of(tiny.key, tiny.dataset, loader, tiny.flip_average)
    assert loader.calls == 1 and problem is None
    assert np.array_equal(again.probabilities, good.probabilities)
    assert load_saved(tiny.key, tiny.dataset.y_val, tiny.dataset.class_names, tiny.flip_average) is not None


def test_an_evaluation_of_another_split_or_flip_setting_is_not_used(tiny):
    evaluation_of(tiny.key, tiny.dataset, lambda: tiny.model, tiny.flip_average)
    shifted = relabelled(tiny.dataset, 1)
    assert load_saved(tiny.key, shifted.y_val, shifted.class_names, tiny.flip_average) is None
    assert load_saved(tiny.key, tiny.dataset.y_val, tiny.dataset.class_names, not tiny.flip_average) is None
    assert split_id(shifted, 100, 0) != tiny.key.detail


def test_a_model_with_other_classes_than_the_data_is_one_sentence(tiny):
    from helpers import assert_one_sentence
    from vgg.explain.evaluation import EvaluationError

    three_classes = dataclasses.replace(tiny.dataset, class_names=("a", "b", "c"), y_val=tiny.dataset.y_val % 3)
    with pytest.raises(EvaluationError) as error:
        evaluation_of(tiny.key, three_classes, lambda: tiny.model, tiny.flip_average)
    assert_one_sentence(str(error.value))


def page_test():
    script = "import vgg\nfrom app_pages import mistakes_page\nmistakes_page.render()\n"
    return AppTest.from_string(script, default_timeout=120)


def saved_evaluation(path, image_folder):
    """What the page saved for the model at `path`, read back from its file."""
    split = split_for(path)
    dataset = load_cifar10(image_folder, *split)
    key = evaluation_key(path, split_id(dataset, *split))
    return load_saved(key, dataset.y_val, dataset.class_names, ModelRecord.of(path).flip_average), key, dataset


def gallery_indices(app, true, called):
    prefix = f"cell_{true}_{called}_inspect_"
    return [int(button.key[len(prefix) :]) for button in app.button if (button.key or "").startswith(prefix)]


def markdown_text(app):
    return " ".join(element.value for element in app.markdown)


def test_page_shows_the_matrix_then_a_chosen_cells_gallery_then_one_image(monkeypatch, image_folder, runs_copy):
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_copy))
    monkeypatch.chdir(PROJECT_ROOT)
    app = page_test().run()
    assert not app.exception
    assert app.title[0].value == "Mistakes"
    assert "**Confusion matrix**" in markdown_text(app) and "**Per class**" in markdown_text(app)
    assert app.get("plotly_chart") and app.metric[0].label == "Accuracy"
    if SHIPPED_MODEL.exists():
        # The shipped model errs on the generated images: the page opens on its most frequent mistake.
        shipped, _, dataset = saved_evaluation(SHIPPED_MODEL, image_folder)
        true, called = (dataset.class_names[index] for index in shipped.most_frequent_mistake())
        assert (app.selectbox(key="mistakes_true").value, app.selectbox(key="mistakes_called").value) == (true, called)
        cell = shipped.cell(dataset.class_names.index(true), dataset.class_names.index(called))
        assert gallery_indices(app, true, called) == cell[:12].tolist()
        assert f"{len(cell):,} **{true}** images the model calls **{called}**" in markdown_text(app)
    app.selectbox(key="mistakes_model").set_value("Run tiny (final)").run()
    app.selectbox(key="mistakes_true").set_value("cat").run()
    app.selectbox(key="mistakes_called").set_value("cat").run()
    assert not app.exception
    tiny, key, tiny_dataset = saved_evaluation(runs_copy / "tiny" / "model.keras", image_folder)
    assert tiny is not None, "the page saved the tiny model's evaluation beside it"
    assert app.metric[0].value == f"{tiny.accuracy:.1%}"
    expected = tiny.cell(3, 3).tolist()
    assert expected and gallery_indices(app, "cat", "cat") == expected[:12]
    assert f"{len(expected):,} **cat** images the model calls **cat**, rightly" in markdown_text(app)
    app.button(key=f"cell_cat_cat_inspect_{expected[0]}").click().run()
    assert not app.exception
    assert "Grad-CAM: where the model finds evidence" in " ".join(element.value for element in app.caption)
    # The tiny run was checked on its own split, not among the Inside page's images: the link opens its model.
    assert "(inside?model=Run+tiny+%28final%29): it was checked on other validation images" in markdown_text(app)
    # On the app's own split the link names the image as the Inside page's chooser does: its class and number.
    number = int((tiny.labels[: expected[0]] == 3).sum())
    from app_pages.mistakes_page import inside_link

    link = inside_link("Run tiny (final)", tiny_dataset, expected[0], DEFAULT_SPLIT)
    assert link == f"inside?model=Run+tiny+%28final%29&class=cat&index={number}&tab=Feature+maps"
    # Another visit reads the saved evaluation back: the file is not written again.
    saved_at = key.file.stat().st_mtime_ns
    again = page_test().run()
    again.selectbox(key="mistakes_model").set_value("Run tiny (final)").run()
    assert not again.exception and again.metric[0].value == f"{tiny.accuracy:.1%}"
    assert key.file.stat().st_mtime_ns == saved_at


def test_a_link_opens_the_page_on_its_model(monkeypatch, image_folder, runs_copy):
    from app_pages.pages import mistakes_link

    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_copy))
    monkeypatch.chdir(PROJECT_ROOT)
    link = mistakes_link("Run tiny (final)")
    assert link == "mistakes?model=Run+tiny+%28final%29"
    app = page_test()
    app.query_params["model"] = "Run tiny (final)"
    app.run()
    assert not app.exception
    assert app.selectbox(key="mistakes_model").value == "Run tiny (final)"
    assert app.metric[0].label == "Accuracy"
