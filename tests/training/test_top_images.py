"""The images that excite each channel most, on the tiny trained run's model: the saved top 9 are the true
maxima (checked against every image's every unit), crops show exactly the pixels a unit depends on, and a
saved pass is read back instead of run again."""

import re

import keras
import numpy as np
import tensorflow as tf

from helpers import generated_images
from vgg.explain.evaluation import evaluation_key, split_id
from vgg.explain.top_images import TOP, cache_file, compute, top_images_of
from vgg.explain.visualize import field_crop, receptive_field_box, receptive_field_geometry
from vgg.model.build import activation_layer_names


def test_the_top_images_are_the_true_maxima(tiny_model):
    images, _ = generated_images(per_class=7, seed=3)  # 70 images, in batches of 16 so the running top is merged.
    top = compute(tiny_model, images, batch_size=16)
    names = activation_layer_names(tiny_model)
    maps = keras.Model(tiny_model.inputs, [tiny_model.get_layer(name).output for name in names]).predict(
        images.astype(np.float32), verbose=0
    )
    for name, activation in zip(names, maps, strict=True):
        layer = top.layers[name]
        peaks = activation.max(axis=(1, 2))  # (N, C): each image's strongest unit per channel.
        assert layer.index.shape == (TOP, activation.shape[-1])
        expected = -np.sort(-peaks, axis=0)[:TOP]
        np.testing.assert_allclose(layer.value, expected, rtol=1e-4, atol=1e-5)
        # Each claimed image really has that response at the claimed unit.
        rows = activation[layer.index, layer.y, layer.x, np.arange(activation.shape[-1])]
        np.testing.assert_allclose(rows, layer.value, rtol=1e-4, atol=1e-5)
        assert (np.diff(layer.value, axis=0) <= 0).all()


def test_a_crop_holds_exactly_the_pixels_a_unit_depends_on(tiny_model):
    geometry = receptive_field_geometry(tiny_model)
    image = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    for name, (y, x) in (("block1_relu1", (5, 9)), ("block2_relu1", (7, 3)), ("block3_relu2", (4, 4))):
        # The gradient of one unit before its ReLU shows which input pixels it depends on.
        before = name.replace("_relu", "_bn")
        model = keras.Model(tiny_model.inputs, tiny_model.get_layer(before).output)
        pixels = tf.constant(image)
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            unit = model(pixels, training=False)[0, y, x, 0]
        reached = np.abs(tape.gradient(unit, pixels).numpy()[0]).sum(axis=-1) > 0
        rows, columns = np.flatnonzero(reached.any(axis=1)), np.flatnonzero(reached.any(axis=0))
        top, left, bottom, right = receptive_field_box(geometry, name, y, x)
        assert top <= rows.min() and rows.max() < bottom and left <= columns.min() and columns.max() < right, name
    first = field_crop(image[0].astype(np.uint8), geometry, "block1_relu1", 5, 9)
    np.testing.assert_array_equal(first, image[0, 4:7, 8:11].astype(np.uint8))
    corner = field_crop(image[0].astype(np.uint8), geometry, "block2_relu1", 0, 0)
    assert corner.shape == (10, 10, 3) and (corner[:4, :4] == 128).all()  # Grey past the image's edge.


def test_the_pass_is_saved_beside_the_evaluation_and_read_back(tiny_model, tiny_model_path):
    from vgg.data.cifar10 import Dataset

    calls = []

    def get_model():
        calls.append(1)
        return tiny_model

    images, labels = generated_images(per_class=4, seed=1)
    dataset = Dataset(images, labels, images, labels, tuple(range(10)), "generated")
    key = evaluation_key(tiny_model_path, split_id(dataset, len(labels), 0))
    names = activation_layer_names(tiny_model)
    first, problem = top_images_of(key, names, images, get_model)
    assert problem is None and calls == [1]
    assert cache_file(key).parent == key.file.parent and cache_file(key).exists()
    again, problem = top_images_of(key, names, images, get_model)
    assert calls == [1], "the second call ran the model again"
    for name in names:
        np.testing.assert_array_equal(again.layers[name].index, first.layers[name].index)
    # Other images (another split) never read this pass's answers.
    top_images_of(key, names, images[:20], get_model)
    assert calls == [1, 1]


def test_a_chosen_square_of_a_feature_map_frames_its_pixels(app_environment):
    from helpers import page_test

    app = page_test("inside_page").run()
    app.session_state["inside_tab"] = "Feature maps"
    app.selectbox(key="inside_model").set_value("Run tiny (final)").run()
    assert not app.exception
    words = " ".join(element.value for element in app.markdown)
    # A map opens on its strongest square; at Block 1, conv 1 (32x32) a square sees at most 3x3 pixels.
    response, strongest = re.search(r"responds \*\*([\d.]+)\*\* \(the map's strongest: ([\d.]+)\)", words).groups()
    assert response == strongest and re.search(r"framed \*\*[23]x[23] pixels\*\* of the 32x32 image", words)
    assert app.get("plotly_chart"), "the clickable map is missing"
    # A click on the corner square (as follow_field_click records it): its field is cut by the image's edge.
    channel = app.number_input(key="field_channel").value
    app.session_state["field_map_unit"] = (("block1_relu1", channel), 0, 0)
    app.run()
    assert "Row 0, column 0 of channel" in " ".join(element.value for element in app.markdown)
    assert "framed **2x2 pixels**" in " ".join(element.value for element in app.markdown)
    # A 32-pixel field centred on the corner square of block 3: the 18x18 pixels of it inside the image.
    app.select_slider(key="feature_layer").set_value("block3_conv2").run()
    channel = app.number_input(key="field_channel").value
    app.session_state["field_map_unit"] = (("block3_relu2", channel), 0, 0)
    app.run()
    assert "framed **18x18 pixels**" in " ".join(element.value for element in app.markdown)
    app.select_slider(key="feature_layer").set_value("block5_pool").run()
    assert "It depends on **the whole image**" in " ".join(element.value for element in app.markdown)
