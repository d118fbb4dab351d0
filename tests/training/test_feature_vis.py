"""Activation maximization on the tiny trained run's model (real TensorFlow, real files): the pictures excite
what they are made for far more than real images do, classes get their own pictures, and a saved set is read
back without optimizing again."""

import keras
import numpy as np
import pytest

from helpers import generated_images, picture_grids
from vgg.explain.feature_vis import CLASSES, cache_file, maximize, pictures_of


def channel_means(model, layer, images):
    """Each channel's mean response over its map after the ReLU, (N, C), as the feature-map grid shows it."""
    name = (
        layer.replace("_conv", "_relu") if layer.replace("_conv", "_relu") in [x.name for x in model.layers] else layer
    )
    maps = keras.Model(model.inputs, model.get_layer(name).output).predict(images, verbose=0)
    return maps.mean(axis=(1, 2))


def test_each_picture_excites_its_channel_far_more_than_real_images(tiny_model):
    images, _ = generated_images(per_class=30, seed=7)  # 300 images of the kind the model learned.
    layer = "block3_conv2"
    pictures = maximize(tiny_model, layer, range(8), steps=160)
    assert pictures.images.shape == (8, 32, 32, 3) and pictures.images.dtype == np.uint8
    real = np.percentile(channel_means(tiny_model, layer, images.astype(np.float32)), 99, axis=0)[:8]
    found = channel_means(tiny_model, layer, pictures.images.astype(np.float32))
    for channel in range(8):
        # Its own picture, against the real images' 99th percentile: a channel silent on them must at least wake.
        assert found[channel, channel] > max(2 * real[channel], 1e-3), (channel, found[channel, channel], real[channel])
    # Each picture is made for its own channel: that channel responds to it more than to the other pictures.
    assert (found[:, :8].argmax(axis=0) == np.arange(8)).mean() >= 0.75


def test_class_pictures_raise_their_class_score_above_every_real_image(tiny_model):
    from vgg.explain.feature_vis import class_target

    images, _ = generated_images(per_class=30, seed=7)
    pictures = maximize(tiny_model, CLASSES, range(10))
    features, logits = class_target(tiny_model)
    real = np.asarray(logits(features(images.astype(np.float32), training=False)))
    found = np.asarray(logits(features(pictures.images.astype(np.float32), training=False)))
    assert (np.diag(found) > real.max(axis=0)).all(), (np.diag(found), real.max(axis=0))
    # The softmax is left out of the objective, so a picture may raise another class too; most are called by theirs.
    called = tiny_model.predict(pictures.images.astype(np.float32), verbose=0).argmax(axis=1)
    assert (called == np.arange(10)).sum() >= 8, called


def test_pictures_are_saved_once_and_read_back_without_optimizing(tiny_model, tiny_model_path):
    calls = []

    def get_model():
        calls.append(1)
        return tiny_model

    progress = []
    first, problem = pictures_of(
        tiny_model_path, "block2_conv1", get_model, count=4, progress=lambda done, total: progress.append((done, total))
    )
    assert problem is None and calls == [1] and first.targets == (0, 1, 2, 3)
    assert progress[-1] == (progress[-1][1], progress[-1][1]) and len(progress) >= 5
    file, _ = cache_file(tiny_model_path, "pictures", "block2_conv1-4")
    assert file.exists() and file.parent == tiny_model_path.parent  # A run's model keeps them beside it.
    again, problem = pictures_of(tiny_model_path, "block2_conv1", get_model, count=4)
    assert problem is None and calls == [1], "the second call optimized again"
    np.testing.assert_array_equal(again.images, first.images)
    file.write_bytes(b"not a zip")  # A damaged file is computed again, not shown.
    pictures_of(tiny_model_path, "block2_conv1", get_model, count=4)
    assert calls == [1, 1]


def test_a_layer_without_channels_is_refused_in_one_sentence(tiny_model):
    from vgg.explain.feature_vis import FeatureVisError

    with pytest.raises(FeatureVisError, match="^block1_pool is not a conv layer"):
        maximize(tiny_model, "block1_pool", [0])
    with pytest.raises(ValueError, match="Received: targets="):
        maximize(tiny_model, "block1_conv1", [999])


def test_the_filters_tab_shows_what_the_shipped_models_channels_and_classes_want(app_environment):
    from helpers import page_test
    from vgg.runs.record import SHIPPED_LABEL, SHIPPED_MODEL

    if not SHIPPED_MODEL.exists():
        pytest.skip("the shipped model is not in assets/")
    app = page_test("inside_page").run()
    assert app.selectbox(key="inside_model").value == SHIPPED_LABEL
    assert "filter_layer" not in app.session_state, "the closed Filters tab drew nothing"
    app.session_state["inside_tab"] = "Filters"
    app.run()
    assert not app.exception and not app.error
    text = " ".join(element.value for element in app.markdown)
    assert "are colour detectors" in text and "are edge detectors" in text
    assert "filter_layer" in app.session_state and app.selectbox(key="filter_layer").value == "block3_conv3"
    assert "What each channel of Block 3, conv 3 wants" in text and "9 validation photos" in text
    assert "What each class wants" in text
    channels, classes = picture_grids(app)
    assert channels == [f"Channel {channel}" for channel in range(16)]
    assert {"airplane", "horse", "truck"} <= set(classes)
    # A later layer is drawn from its own saved pictures; the pass over the photos is not run again.
    app.selectbox(key="filter_layer").set_value("block4_conv1").run()
    assert not app.exception and "What each channel of Block 4, conv 1 wants" in " ".join(
        element.value for element in app.markdown
    )


def test_a_model_without_batch_norm_is_pictured_through_its_convs_own_relu():
    from vgg.model.build import build_vgg

    # The blog recipe's kind of model: each conv has its ReLU built in, so the ascent rebuilds the conv without it.
    model = build_vgg(width=0.125, batch_norm=False, head="small")
    images, _ = generated_images(per_class=5, seed=2)
    pictures = maximize(model, "block2_conv1", range(4))
    real = channel_means(model, "block2_conv1", images.astype(np.float32))[:, :4].max(axis=0)
    found = np.diag(channel_means(model, "block2_conv1", pictures.images.astype(np.float32))[:, :4])
    assert (found > real).all(), (found, real)
