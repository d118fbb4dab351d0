"""The Predict page's attention maps for the tiny trained run, computed once per photo and class."""

import numpy as np

from helpers import counting, generated_images, page_test, png_bytes, texts
from vgg.data.cifar10 import CLASS_NAMES
from vgg.explain.predictor import Predictor


def test_predict_page_shows_three_blocks_and_pixels_for_the_answer_and_the_runner_up(app_environment, monkeypatch):
    import streamlit as st

    st.cache_data.clear()  # Another test may have analysed the same photo with the same model in this process.
    computed = counting(monkeypatch, Predictor, "attention")

    images, labels = generated_images(per_class=1, seed=5)
    ship = images[list(labels).index(8)]
    app = page_test("predict_page").run()
    app.selectbox(key="predict_model").set_value("Run tiny (final)").run()
    app.get("file_uploader")[0].set_value(
        [("ship.png", png_bytes(np.kron(ship, np.ones((4, 4, 1), np.uint8))), "image/png")]
    ).run()
    assert not app.exception, app.exception
    words = texts(app)
    compare = next(box for box in app.selectbox if box.label == "Compare with the class")
    runner_up = CLASS_NAMES[compare.value]
    assert f"Compared with **{runner_up}**" in words
    assert "Block 5's 2x2 grid is coarse because each of its four cells sums up a quarter of the image" in words
    captions = [element.proto.imgs[0].caption for element in app.get("image")]
    shown = " ".join(captions) + " " + words
    for label in ("block 3 · 8x8 grid (read this first)", "block 4 · 4x4 grid", "block 5 · 2x2 grid", "pixels · 32x32"):
        assert label in shown
    assert "dark: adds nothing · bright: adds the most" in captions
    # The headline's map and the two classes' rows; a rerun (the camera toggled) computes none again.
    assert len(computed) == 2
    app.toggle(key="predict_camera_on").set_value(True).run()
    assert len(computed) == 2 and not app.exception
    least_likely = compare.options[-1].split(" (")[0]
    compare.select_index(len(compare.options) - 1).run()
    assert not app.exception
    assert f"Compared with **{least_likely}**" in texts(app)
