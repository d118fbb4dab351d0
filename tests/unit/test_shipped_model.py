"""The trained VGG16 in assets/: it loads safely, is small, and is the architecture its card says."""

from vgg.model.build import build_from_config, conv_layers, describe
from vgg.runs import record as model_record


def test_shipped_model_is_small_and_is_the_default(shipped_model):
    assert model_record.SHIPPED_MODEL.stat().st_size <= 20_000_000  # The 20 MB.
    assert model_record.default_model_path() == model_record.SHIPPED_MODEL


def test_shipped_model_has_the_architecture_its_card_states(shipped_model, shipped_card):
    from vgg.core.config import TrainConfig

    card = shipped_card
    expected = build_from_config(TrainConfig.from_dict(card["config"]))
    assert len(conv_layers(shipped_model)) == 13
    ours, theirs = describe(shipped_model), describe(expected)
    assert [(row["name"], row["output_shape"], row["params"]) for row in ours["layers"]] == [
        (row["name"], row["output_shape"], row["params"]) for row in theirs["layers"]
    ]
    assert ours["params"] == card["params"]
