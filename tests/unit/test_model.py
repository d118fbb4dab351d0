import keras
import pytest

from vgg.core.config import PRESETS, SettingError, TrainConfig, preset, validate
from vgg.core.estimate import training_flops_per_image
from vgg.model.build import activation_layer_names, build_from_config, build_vgg, conv_layers, describe


def test_convolutional_part_matches_keras_vgg16_layer_by_layer():
    reference = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    ours = build_vgg("D", width=1.0, batch_norm=False)
    reference_layers = [layer for layer in reference.layers if layer.name.startswith("block")]
    our_layers = [layer for layer in ours.layers if layer.name.startswith("block")]
    assert [layer.name for layer in our_layers] == [layer.name for layer in reference_layers]
    for mine, theirs in zip(our_layers, reference_layers, strict=True):
        assert tuple(mine.output.shape) == tuple(theirs.output.shape), mine.name
        assert mine.count_params() == theirs.count_params(), mine.name


def test_blog_preset_is_the_posts_33_million_parameter_model():
    model = build_from_config(PRESETS["blog"])
    assert model.count_params() == 33_638_218
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [4096, 4096, 10]
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


@pytest.mark.parametrize("variant, convs", [("A", 8), ("B", 10), ("D", 13), ("E", 16)])
def test_each_variant_has_the_papers_conv_count_and_five_pooled_blocks(variant, convs):
    model = build_vgg(variant, width=0.125, batch_norm=True, head="small")
    assert len(conv_layers(model)) == convs
    assert [layer.name for layer in model.layers if layer.name.endswith("_pool")] == [
        f"block{block}_pool" for block in range(1, 6)
    ]
    assert model.get_layer("block5_pool").output.shape[1:3] == (1, 1)


def test_width_multiplier_scales_channels_and_feature_maps_follow_relus():
    model = build_vgg("D", width=0.25, batch_norm=True)
    assert model.get_layer("block1_conv1").filters == 16
    assert model.get_layer("block5_conv3").filters == 128
    names = activation_layer_names(model)
    assert names[0] == "block1_relu1" and names[-1] == "block5_relu3" and len(names) == 13


def test_the_estimate_s_flops_count_the_layers_the_builder_makes():
    config = preset("cpu").replace(width=0.125)
    model = build_from_config(config)
    forward = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            rows, columns, channels = layer.output.shape[1:]
            forward += (
                2 * rows * columns * channels * layer.kernel.shape[0] * layer.kernel.shape[1] * layer.input.shape[-1]
            )
        elif isinstance(layer, keras.layers.Dense):
            forward += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    assert training_flops_per_image(config) == 3 * forward


def test_model_takes_raw_pixels_and_returns_probabilities():
    model = build_from_config(TrainConfig(width=0.125))
    probabilities = model(keras.ops.ones((2, 32, 32, 3)) * 255.0)
    assert probabilities.shape == (2, 10)
    assert keras.ops.convert_to_numpy(keras.ops.sum(probabilities, axis=1)) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_describe_lists_every_layer_with_shape_and_params():
    description = describe(build_vgg("D", width=0.25, batch_norm=True, head="small"))
    rows = {row["name"]: row for row in description["layers"]}
    assert rows["block3_conv2"]["output_shape"] == [None, 8, 8, 64]
    assert rows["block3_conv2"]["block"] == 3
    assert description["params"] == sum(row["params"] for row in description["layers"])
    assert description["conv_layers"] == 13


def test_every_preset_is_valid():
    for name, config in PRESETS.items():
        assert validate(config) is config, name


@pytest.mark.parametrize(
    "changes, phrase",
    [
        ({"epochs": -1}, "epochs must be between"),
        ({"batch_size": 0}, "batch_size must be between"),
        ({"width": 1000}, "width must be between"),
        ({"variant": "Z"}, "variant must be one of"),
        ({"learning_rate": float("nan")}, "learning_rate must be a number"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"cutout_size": 40}, "cutout_size must be between"),
        ({"cutout_size": 8, "augment": False}, "cutout_size is part of augmentation"),
    ],
)
def test_impossible_settings_are_refused_with_one_sentence(changes, phrase):
    with pytest.raises(SettingError, match=phrase) as error:
        validate(TrainConfig().replace(**changes))
    assert "\n" not in str(error.value)


def test_builder_refuses_an_unknown_variant_like_keras_does():
    with pytest.raises(ValueError, match="Received: variant='F'"):
        build_vgg("F")


def test_train_command_spells_out_every_change_from_its_preset():
    import shlex

    from vgg.core.config import train_command

    config = PRESETS["half"].replace(width=0.75, augment=False, epochs=3)
    command = train_command(config, "half", "/tmp/my cifar")
    arguments = shlex.split(command)
    assert arguments[:6] == ["python", "-m", "vgg", "train", "--preset", "half"]
    assert arguments[arguments.index("--data-dir") + 1] == "/tmp/my cifar"
    assert {"--width", "0.75", "--no-augment", "--epochs", "3"} <= set(arguments)
    assert "--learning-rate" not in arguments


def test_train_command_round_trips_through_the_command_line():
    import shlex

    from vgg.cli import build_parser
    from vgg.cli.options import config_from_args
    from vgg.core.config import train_command

    config = PRESETS["half"].replace(epochs=160, cutout_size=12)
    arguments = shlex.split(train_command(config, "half", "../shared/cifar10"))
    assert {"--epochs", "160", "--cutout-size", "12"} <= set(arguments)
    assert config_from_args(build_parser().parse_args(arguments[3:])) == config
