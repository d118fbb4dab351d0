"""A run can start from a trained model, widened when it is wider: it begins where that model was, and its card
says so."""

import itertools
import json
import shlex
import shutil

import numpy as np
import pytest

from helpers import tiny_config, train_quietly
from vgg.cli import build_parser
from vgg.cli.options import config_from_args
from vgg.data.cifar10 import load_cifar10
from vgg.model.build import build_from_config, conv_layers
from vgg.model.widen import WidenError, transfer_weights
from vgg.runs.folder import create_run, open_run
from vgg.runs.record import ModelRecord
from vgg.training.export import export_run


@pytest.fixture(scope="module")
def start_folder(trained_runs_dir, image_folder, tmp_path_factory):
    """A runs folder holding the tiny run's model as exported, with its card beside it, as assets/ keeps them."""
    assets = tmp_path_factory.mktemp("assets")
    export_run(open_run(trained_runs_dir, "tiny"), image_folder, assets_dir=assets)
    runs_dir = tmp_path_factory.mktemp("runs")
    shutil.copy(assets / "vgg16_cifar10.keras", runs_dir / "start.keras")
    shutil.copy(assets / "vgg16_cifar10.json", runs_dir / "start.json")
    return runs_dir


def test_a_widened_model_predicts_what_the_trained_one_did(tiny_model, image_folder):
    wider = transfer_weights(tiny_model, build_from_config(tiny_config(width=0.25)), seed=0)
    assert [layer.filters for layer in conv_layers(wider)] == [2 * layer.filters for layer in conv_layers(tiny_model)]
    dataset = load_cifar10(image_folder, validation_size=100)
    np.testing.assert_allclose(
        wider.predict(dataset.x_val, verbose=0), tiny_model.predict(dataset.x_val, verbose=0), atol=1e-5
    )
    # Each copied channel gets its own share of the next layer's weights, so training can pull the copies apart.
    kernel = wider.get_layer("block1_conv2").get_weights()[0]
    for first, second in itertools.combinations(range(kernel.shape[2]), 2):
        assert not np.allclose(kernel[:, :, first, :], kernel[:, :, second, :])


def test_models_of_another_kind_or_wider_ones_are_refused_in_one_sentence(tiny_model):
    with pytest.raises(WidenError, match="different layers"):
        transfer_weights(tiny_model, build_from_config(tiny_config(variant="A")))
    with pytest.raises(WidenError, match="as wide or narrower"):
        transfer_weights(build_from_config(tiny_config(width=0.25)), build_from_config(tiny_config()))
    with pytest.raises(WidenError, match="batch normalization"):
        transfer_weights(tiny_model, build_from_config(tiny_config(width=0.25, batch_norm=False)))
    with pytest.raises(WidenError, match="input_scaling"):
        transfer_weights(tiny_model, build_from_config(tiny_config(input_scaling="unit")))


def test_a_wider_run_begins_at_the_trained_models_accuracy_and_its_card_says_where_it_came_from(
    start_folder, image_folder, tmp_path
):
    start_card = json.loads((start_folder / "start.json").read_text())
    # A learning rate too small to learn anything in one epoch: what the run scores, it started with.
    config = tiny_config(width=0.25, epochs=1, learning_rate=1e-7, init_from=str(start_folder / "start.keras"))
    wider = train_quietly(create_run(start_folder, config, name="wider"), image_folder)
    assert wider.state == "finished", wider.traceback
    fresh_run = create_run(start_folder, config.replace(init_from=""), name="fresh")
    fresh = train_quietly(fresh_run, image_folder)
    print(
        f"started from a {start_card['val_accuracy']:.0%} model: {wider.final_accuracy:.0%}; "
        f"from random weights: {fresh.final_accuracy:.0%}"
    )
    assert wider.final_accuracy >= start_card["val_accuracy"] - 0.05
    assert fresh.final_accuracy < 0.5

    # What the run started from was recorded when it started: a later change to those files changes nothing.
    (start_folder / "start.json").write_text("not a card")
    card = export_run(open_run(start_folder, "wider"), image_folder, assets_dir=tmp_path / "wider")
    assert card["started_from"]["run"] == "tiny" and card["started_from"]["epochs"] == start_card["epochs"]
    # The command reads the starting model where its own run leaves it, not at this machine's path.
    arguments = shlex.split(card["command"])
    assert arguments[arguments.index("--init-from") + 1] == "runs/tiny/model.keras"
    rebuilt = config_from_args(build_parser().parse_args(arguments[3:]))
    assert rebuilt.replace(init_from=config.init_from) == config
    markdown = (tmp_path / "wider" / "MODEL_CARD.md").read_text()
    assert f"{start_card['command']} --name tiny\n{card['command']}\n" in markdown
    assert "Net2WiderNet" in markdown and "1, after the 3 of `tiny`" in markdown
    # The pages' caption counts the epochs of both models.
    assert "at width 0.25, trained 3 + 1 epochs" in ModelRecord.of(tmp_path / "wider" / "vgg16_cifar10.keras").summary()

    # A run started from another run's final model (no card beside it) learns its lineage from that run's files.
    again = config.replace(init_from=str(open_run(start_folder, "wider").model_path))
    status = train_quietly(create_run(start_folder, again, name="again"), image_folder)
    assert status.state == "finished", status.traceback
    card = export_run(open_run(start_folder, "again"), image_folder, assets_dir=tmp_path / "again")
    markdown = (tmp_path / "again" / "MODEL_CARD.md").read_text()
    commands = [line for line in markdown.splitlines() if line.startswith("python -m vgg train")]
    assert [command.split("--name ")[-1] for command in commands[:2]] == ["tiny", "wider"]
    assert "--init-from runs/tiny/model.keras" in commands[1] and "--init-from runs/wider/model.keras" in commands[2]
    assert "started from the trained model of run `wider`" in markdown
    assert "trained 3 + 1 + 1 epochs" in ModelRecord.of(tmp_path / "again" / "vgg16_cifar10.keras").summary()


def test_a_starting_model_that_is_missing_fails_the_run_in_one_sentence(image_folder, tmp_path):
    config = tiny_config(epochs=1, init_from=str(tmp_path / "runs" / "gone.keras"))
    status = train_quietly(create_run(tmp_path / "runs", config, name="orphan"), image_folder)
    assert status.state == "failed"
    assert status.error == "There is no model file at " + str(tmp_path / "runs" / "gone.keras") + "."
