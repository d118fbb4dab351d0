"""The nearest-images view over the tiny trained run, and the neighbours of the shipped model on real CIFAR-10."""

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from helpers import SHARED_CIFAR10, neighbours_page, picture_grids, real_cifar10
from vgg.data.cifar10 import CLASS_NAMES
from vgg.explain import neighbours

requires_cifar10 = pytest.mark.skipif(not (SHARED_CIFAR10 / "train").is_dir(), reason="no CIFAR-10 at ../shared")


@requires_cifar10
def test_block_5_neighbours_share_the_class_more_often_than_block_1s_on_the_shipped_model(tmp_path):
    from vgg.explain.predictor import Predictor
    from vgg.runs.record import SHIPPED_MODEL

    dataset = real_cifar10(tmp_path, per_class=250, validation_size=500)
    predictor = Predictor.for_file(SHIPPED_MODEL, tmp_path)
    index = neighbours.build_index(predictor.model, dataset.x_train, dataset.y_train)
    predictions = predictor.probabilities(dataset.x_val).argmax(axis=1)
    right = np.flatnonzero(predictions == dataset.y_val)[:50]
    assert len(right) == 50
    shares = np.zeros(5)
    for position in right:
        answer = neighbours.query(index, neighbours.image_features(predictor.model, dataset.x_val[position]))
        shares += [np.mean(block.labels == dataset.y_val[position]) for block in answer.blocks]
    shares /= len(right)
    # Seen with these 2,000 indexed images: 0.26 at block 1 (colour), 1.0 at block 5 (the class).
    assert shares[4] >= 0.75 and shares[0] <= 0.5 and shares[4] - shares[0] >= 0.35, shares


def test_the_view_draws_a_row_of_eight_per_block_and_the_vote_beside_the_softmax(app_environment):
    model_path = str(app_environment / "tiny" / "model.keras")
    app = AppTest.from_function(neighbours_page, args=(model_path,), default_timeout=120).run()
    assert not app.exception and not app.error
    text = " ".join(element.value for element in [*app.markdown, *app.caption])
    for block in range(1, 6):
        assert f"**Block {block}**" in text
    assert "The network's answer" in text and "Block 5's 8 nearest training images vote" in text
    assert text.count("the network's answer.") == 5
    votes = [
        re.fullmatch(r"(\w+): (\d) of 8", line.strip())
        for element in app.markdown
        for line in element.value.split("\n")
    ]
    assert sum(int(vote[2]) for vote in votes if vote) == 8
    assert len([picture for element in app.get("image") for picture in element.proto.imgs]) == 1, "the image"
    rows = picture_grids(app)
    assert [len(row) for row in rows] == [8] * 5 and set(rows[4]) <= set(CLASS_NAMES), rows
    (saved,) = app_environment.glob("tiny/model.neighbours-*.npz")
    written = saved.stat().st_mtime_ns
    # Another session: the same index, not built again.
    again = AppTest.from_function(neighbours_page, args=(model_path,), default_timeout=120).run()
    assert not again.exception and picture_grids(again) == rows
    assert saved.stat().st_mtime_ns == written
