"""The shipped model scores its card's validation accuracy on the real CIFAR-10."""

import pytest

from helpers import SHARED_CIFAR10
from vgg.explain import predictor as inference
from vgg.runs import record as model_record


@pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")
def test_shipped_model_scores_its_cards_validation_accuracy(shipped_model, shipped_card):
    from vgg.data.cifar10 import load_cifar10

    card = shipped_card
    dataset = load_cifar10(SHARED_CIFAR10, validation_size=card["validation_size"], seed=card["config"]["seed"])
    # Scored as the app predicts with it: the card and the app read the same record of its training.
    flip_average = model_record.ModelRecord.of(model_record.SHIPPED_MODEL).flip_average
    assert flip_average == card["flip_average"]
    result = inference.evaluate(shipped_model, dataset.x_val, dataset.y_val, flip_average=flip_average)
    print(
        f"shipped model: {result['accuracy']:.4f} on {result['images']} validation images "
        f"(card: {card['val_accuracy']:.4f}); "
        f"images alone {result['single_view_accuracy']:.4f} (card: {card['val_accuracy_single_view']:.4f})"
    )
    assert result["accuracy"] == pytest.approx(card["val_accuracy"], abs=0.005)
    assert result["single_view_accuracy"] == pytest.approx(card["val_accuracy_single_view"], abs=0.005)
    assert result["per_class_accuracy"] == pytest.approx(card["per_class_accuracy"], abs=0.02)
