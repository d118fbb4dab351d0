"""The trained VGG16 in assets/: it loads safely, is the architecture its card says, and scores the card's accuracy."""

import json

import pytest

from conftest import SHARED_CIFAR10
from vgg.explain import predictor as inference
from vgg.model.build import build_from_config, conv_layers, describe
from vgg.runs import record as model_record

CARD_DATA = model_record.ASSETS_DIR / "vgg16_cifar10.json"
pytestmark = pytest.mark.skipif(not model_record.SHIPPED_MODEL.exists(), reason="no model ships in assets/ yet")


@pytest.fixture(scope="module")
def card():
    return json.loads(CARD_DATA.read_text())


@pytest.fixture(scope="module")
def shipped_model():
    return inference.load_model(model_record.SHIPPED_MODEL, runs_dir="runs")


def test_shipped_model_is_small_and_is_the_default(shipped_model):
    assert model_record.SHIPPED_MODEL.stat().st_size <= 20_000_000  # The 20 MB.
    assert model_record.default_model_path() == model_record.SHIPPED_MODEL


def test_shipped_model_has_the_architecture_its_card_states(shipped_model, card):
    from vgg.core.config import TrainConfig

    expected = build_from_config(TrainConfig.from_dict(card["config"]))
    assert len(conv_layers(shipped_model)) == 13
    ours, theirs = describe(shipped_model), describe(expected)
    assert [(row["name"], row["output_shape"], row["params"]) for row in ours["layers"]] == [
        (row["name"], row["output_shape"], row["params"]) for row in theirs["layers"]
    ]
    assert ours["params"] == card["params"]


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")
def test_shipped_model_scores_its_cards_validation_accuracy(shipped_model, card):
    from vgg.data.cifar10 import load_cifar10

    dataset = load_cifar10(SHARED_CIFAR10, validation_size=card["validation_size"], seed=card["config"]["seed"])
    # Scored as the app predicts with it: the card and the app read the same record of its training.
    flip_average = model_record.ModelRecord.of(model_record.SHIPPED_MODEL).flip_average
    assert flip_average == card["flip_average"]
    result = inference.evaluate(shipped_model, dataset.x_val, dataset.y_val, flip_average=flip_average)
    print(f"shipped model: {result['accuracy']:.4f} on {result['images']} validation images "
          f"(card: {card['val_accuracy']:.4f}); "
          f"images alone {result['single_view_accuracy']:.4f} (card: {card['val_accuracy_single_view']:.4f})")
    assert result["accuracy"] == pytest.approx(card["val_accuracy"], abs=0.005)
    assert result["single_view_accuracy"] == pytest.approx(card["val_accuracy_single_view"], abs=0.005)
    assert result["per_class_accuracy"] == pytest.approx(card["per_class_accuracy"], abs=0.02)
