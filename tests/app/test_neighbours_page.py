"""The nearest-images view of a model whose block 5 is dead, through AppTest."""

import keras
import numpy as np
from streamlit.testing.v1 import AppTest

from helpers import neighbours_page, picture_grids
from vgg.model.build import build_vgg


def test_a_dead_block_5_has_no_neighbours_and_casts_no_vote(data_environment, monkeypatch, tmp_path):
    """The blog's recipe leaves block 5's ReLUs all dead: it is then equally near every image, which the view says."""
    keras.utils.set_random_seed(5)
    model = build_vgg(width=0.125, batch_norm=True, head="linear")
    last = model.get_layer("block5_bn3")
    gamma, beta, mean, variance = last.get_weights()
    last.set_weights([np.zeros_like(gamma), -np.ones_like(beta), mean, variance])  # Every ReLU after it outputs 0.
    (tmp_path / "runs").mkdir()
    model.save(tmp_path / "runs" / "dead.keras")
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "runs"))
    app = AppTest.from_function(neighbours_page, args=(str(tmp_path / "runs" / "dead.keras"),), default_timeout=120)
    app.run()
    assert not app.exception and not app.error
    text = " ".join(element.value for element in [*app.markdown, *app.caption])
    assert "No vote: every number of block 5 is zero for this image." in text
    assert "Every number is zero for this image" in text and text.count("the network's answer.") == 4
    assert [len(row) for row in picture_grids(app)] == [8] * 4, "blocks 1 to 4 still have neighbours"


def test_a_class_folders_name_in_a_pictures_caption_stays_text():
    from app_pages.picture_grid import picture_grid

    grid = picture_grid([np.zeros((32, 32, 3), np.uint8)], ['<img src=x onerror="alert(1)">'], columns=8)
    assert "<img src=x" not in grid and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in grid
