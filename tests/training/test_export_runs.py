"""Exporting the tiny trained run: the model and card agree, the card's command rebuilds the run, a model over
the size limit ships in float16, and a failed export keeps what shipped."""

import json
import shlex

import pytest

from helpers import tiny_config
from vgg.cli import build_parser
from vgg.cli.options import config_from_args
from vgg.explain.predictor import evaluate, load_model
from vgg.runs.folder import RunError, open_run


def test_export_writes_a_model_and_a_card_that_agree(trained_runs_dir, image_folder, tmp_path):
    from vgg.data.cifar10 import load_cifar10
    from vgg.training.export import export_run

    run = open_run(trained_runs_dir, "tiny")
    # No data folder given: the run's own, so the card's split is the one the run held out.
    card = export_run(run, None, assets_dir=tmp_path)
    assert card["data_dir"] == str(image_folder) and card["validation_size"] == run.config().validation_size

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "MODEL_CARD.md",
        "vgg16_cifar10.json",
        "vgg16_cifar10.keras",
    ]
    assert json.loads((tmp_path / "vgg16_cifar10.json").read_text()) == card
    # The shipped file scores what the card says on the run's own validation split.
    model = load_model(tmp_path / "vgg16_cifar10.keras", tmp_path)
    dataset = load_cifar10(image_folder, validation_size=card["validation_size"], seed=card["config"]["seed"])
    scores = evaluate(model, dataset.x_val, dataset.y_val, flip_average=card["flip_average"])
    assert scores["accuracy"] == card["val_accuracy"]
    assert card["epochs"] == 3 and len(card["per_class_accuracy"]) == 10
    markdown = (tmp_path / "MODEL_CARD.md").read_text()
    assert f"{card['val_accuracy']:.2%}" in markdown and card["command"] in markdown
    # The tiny run trained without flips, so the card states a single-view accuracy, as the app predicts it.
    assert card["flip_average"] is False and "mirror" not in markdown
    assert "## Limits" in markdown


def test_the_cards_command_rebuilds_the_runs_settings(trained_runs_dir, image_folder, tmp_path):
    from vgg.training.export import export_run

    card = export_run(open_run(trained_runs_dir, "tiny"), image_folder, assets_dir=tmp_path)
    arguments = shlex.split(card["command"])
    assert arguments[:4] == ["python", "-m", "vgg", "train"]
    rebuilt = config_from_args(build_parser().parse_args(arguments[3:]))
    assert json.loads(rebuilt.to_json()) == card["config"] == json.loads(tiny_config(epochs=3).to_json())


def test_a_model_over_the_size_limit_ships_with_float16_weights_that_score_as_its_card_says(
    trained_runs_dir, image_folder, tmp_path
):
    import numpy as np

    from vgg.data.cifar10 import load_cifar10
    from vgg.training.export import export_run

    run = open_run(trained_runs_dir, "tiny")
    float32_bytes = run.model_path.stat().st_size
    card = export_run(run, image_folder, assets_dir=tmp_path, max_shipped_bytes=float32_bytes - 1)

    shipped = tmp_path / "vgg16_cifar10.keras"
    assert card["weights"] == "float16" and shipped.stat().st_size < 0.6 * float32_bytes
    assert "float16 weights" in (tmp_path / "MODEL_CARD.md").read_text()
    model = load_model(shipped, tmp_path)
    for variable in model.weights:
        values = np.asarray(variable)
        assert np.array_equal(values, values.astype(np.float16).astype(np.float32)), variable.path
    dataset = load_cifar10(image_folder, validation_size=card["validation_size"], seed=card["config"]["seed"])
    scores = evaluate(model, dataset.x_val, dataset.y_val, flip_average=card["flip_average"])
    assert scores["accuracy"] == card["val_accuracy"]


def test_a_failed_export_leaves_the_shipped_model_and_card_as_they_were(trained_runs_dir, image_folder, tmp_path):
    from vgg.data.cifar10 import DataError
    from vgg.training.export import export_run

    run = open_run(trained_runs_dir, "tiny")
    export_run(run, image_folder, assets_dir=tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    # One export fails on the size limit, the other after the new model is written, on missing data.
    with pytest.raises(RunError, match="even with float16 weights"):
        export_run(run, image_folder, assets_dir=tmp_path, max_shipped_bytes=1000)
    with pytest.raises(DataError):
        export_run(run, tmp_path / "no-such-data", assets_dir=tmp_path)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
