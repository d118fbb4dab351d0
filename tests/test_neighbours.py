"""Nearest training images per block: a saved index that is read back, answers as brute force does, finds the class
at block 5 more than at block 1 on the shipped model, survives a damaged file, and draws on a page."""

import os
import re
import threading
import time

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import SHARED_CIFAR10, assert_one_sentence
from vgg.data.cifar10 import CLASS_NAMES, load_cifar10
from vgg.explain import neighbours
from vgg.model.build import build_vgg

requires_cifar10 = pytest.mark.skipif(not (SHARED_CIFAR10 / "train").is_dir(), reason="no CIFAR-10 at ../shared")


def real_cifar10(root, per_class, validation_size):
    """A CIFAR-10 folder of links to the shared images' first `per_class` of each class, loaded as the app does."""
    for name in CLASS_NAMES:
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for file in sorted(os.listdir(SHARED_CIFAR10 / "train" / name))[:per_class]:
            (folder / file).symlink_to(SHARED_CIFAR10 / "train" / name / file)
    return load_cifar10(root, validation_size, seed=0)


def no_model():
    raise AssertionError("The saved index was not read back: the model was asked for again.")


def brute_force_similarities(model, images, query, block):
    """Cosine similarities of `query` to every image at `block`, from the pooling layer's output itself."""
    pool = keras.Model(model.inputs, model.get_layer(f"block{block}_pool").output)
    features = pool.predict(np.concatenate([query[None], images]).astype(np.float32), verbose=0).mean(axis=(1, 2))
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return features[1:] @ features[0]


@pytest.fixture(scope="module")
def small_real_data(tmp_path_factory):
    if not (SHARED_CIFAR10 / "train").is_dir():
        pytest.skip("no CIFAR-10 at ../shared")
    return real_cifar10(tmp_path_factory.mktemp("cifar"), per_class=40, validation_size=80)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    keras.utils.set_random_seed(3)
    model = build_vgg(width=0.125, batch_norm=True, head="linear", input_scaling="standardize")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return model, path


def saved_index(dataset, model, path):
    indices = neighbours.training_subset(dataset.y_train, 200)
    key = neighbours.index_key(path, neighbours.data_id(dataset, 80, 0, indices))
    index, problem = neighbours.index_of(key, dataset, indices, lambda: model)
    assert problem is None
    return key, indices, index


def test_a_saved_index_is_read_back_without_the_model_and_answers_as_brute_force(small_real_data, tiny_model):
    dataset, (model, path) = small_real_data, tiny_model
    key, indices, built = saved_index(dataset, model, path)
    assert key.file.is_file() and key.file.parent == path.parent and key.model_sha256[:16] in key.file.name
    written = key.file.stat().st_mtime_ns
    # A second session: the index comes from the file, and the model is never asked for.
    index, problem = neighbours.index_of(key, dataset, indices, no_model)
    assert problem is None and key.file.stat().st_mtime_ns == written
    assert index is not built and np.array_equal(index.indices, indices) and len(indices) == 200
    assert index.channels == (8, 16, 32, 64, 64)
    images = dataset.x_train[indices]
    differing = 0
    for query_image in dataset.x_val[:5]:
        answer = neighbours.query(index, neighbours.image_features(model, query_image))
        for block in (1, 5):
            found = answer.blocks[block - 1]
            exact = brute_force_similarities(model, images, query_image, block)
            best = np.sort(exact)[::-1]
            # The float16 file may swap images whose similarities agree to 3 decimals, and no others.
            assert np.all(exact[np.searchsorted(indices, found.indices)] >= best[7] - 2e-3)
            assert np.allclose(found.similarities, best[:8], atol=2e-3)
            assert np.array_equal(found.labels, dataset.y_train[found.indices])
        differing += len(set(answer.blocks[0].indices) ^ set(answer.blocks[4].indices)) > 0
        assert np.array_equal(answer.vote, np.bincount(answer.blocks[4].labels, minlength=10))
        assert answer.vote.sum() == 8
    assert differing == 5  # Block 1 and block 5 measure nearness differently.
    # An indexed image's nearest is itself, at every block.
    own = neighbours.query(index, neighbours.image_features(model, images[17]))
    assert all(block.indices[0] == indices[17] and block.similarities[0] > 0.999 for block in own.blocks)


def test_two_sessions_asking_at_once_build_the_index_once(small_real_data, tiny_model, tmp_path):
    dataset, (model, _) = small_real_data, tiny_model
    path = tmp_path / "model.keras"
    model.save(path)
    indices = neighbours.training_subset(dataset.y_train, 200)
    key = neighbours.index_key(path, neighbours.data_id(dataset, 80, 0, indices))
    first_progress, second_progress, answers = [], [], {}

    def first():
        answers["first"] = neighbours.index_of(key, dataset, indices, lambda: model,
                                               lambda done, total: first_progress.append(done))

    builder = threading.Thread(target=first)
    builder.start()
    while not first_progress:  # The first session is building.
        time.sleep(0.01)
    # The second session never gets the model: it waits for the first and reads the saved file.
    answers["second"] = neighbours.index_of(key, dataset, indices, no_model,
                                            lambda done, total: second_progress.append(done))
    builder.join()
    assert answers["first"][1] is None and answers["second"][1] is None
    assert np.array_equal(answers["second"][0].features[4], answers["first"][0].features[4].astype(np.float16))
    assert first_progress[-1] == 200 and all(done <= 200 for done in second_progress)  # Any it saw: the first's.


@pytest.mark.parametrize("damage", ["random bytes", "cut short", "other image count"])
def test_a_damaged_index_is_built_again(small_real_data, tiny_model, damage):
    dataset, (model, path) = small_real_data, tiny_model
    key, indices, index = saved_index(dataset, model, path)
    if damage == "random bytes":
        key.file.write_bytes(np.random.default_rng(0).bytes(5000))
    elif damage == "cut short":
        key.file.write_bytes(key.file.read_bytes()[:3000])
    else:
        shorter = neighbours.NeighbourIndex(index.indices[:50], tuple(f[:50] for f in index.features),
                                            index.labels[:50], 0.0)
        neighbours.save(key, shorter)
    assert neighbours.load_saved(key, dataset, indices) is None
    with pytest.raises(AssertionError, match="not read back"):
        neighbours.index_of(key, dataset, indices, no_model)
    rebuilt, problem = neighbours.index_of(key, dataset, indices, lambda: model)
    assert problem is None and len(rebuilt.indices) == 200
    assert neighbours.load_saved(key, dataset, indices) is not None


def test_an_index_that_cannot_be_saved_is_used_and_said_in_one_sentence(small_real_data, tiny_model):
    dataset, (model, path) = small_real_data, tiny_model
    indices = neighbours.training_subset(dataset.y_train, 200)
    key = neighbours.index_key(path, neighbours.data_id(dataset, 80, 0, indices))
    key.file.unlink(missing_ok=True)
    key.file.mkdir()  # A folder where the file belongs: the write fails.
    try:
        index, problem = neighbours.index_of(key, dataset, indices, lambda: model)
    finally:
        key.file.rmdir()
    assert len(index.indices) == 200
    assert_one_sentence(problem)
    assert "neighbour index" in problem and "built again next time" in problem


def test_a_new_model_file_gets_a_new_index_and_the_old_one_is_removed(small_real_data, tiny_model, tmp_path):
    dataset, (model, _) = small_real_data, tiny_model
    path = tmp_path / "model.keras"
    model.save(path)
    old_key, _, _ = saved_index(dataset, model, path)
    keras.utils.set_random_seed(4)
    other = build_vgg(width=0.125, batch_norm=True, head="linear")
    other.save(path)
    new_key, _, _ = saved_index(dataset, other, path)
    assert new_key.file != old_key.file and new_key.file.exists() and not old_key.file.exists()


@pytest.mark.slow
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


def neighbours_page(model_path):
    import streamlit as st

    from app_pages.caches import load_predictor
    from app_pages.neighbours_view import neighbours_ui
    from vgg.data.cifar10 import default_data_dir, load_cifar10

    predictor = load_predictor(model_path, 0)
    dataset = load_cifar10(default_data_dir(), 100, 0)
    st.caption(f"Page for {len(dataset.y_val)} images")
    neighbours_ui(predictor, dataset.x_val[3], model_path)


def test_the_view_draws_a_row_of_eight_per_block_and_the_vote_beside_the_softmax(app_environment):
    model_path = str(app_environment / "tiny" / "model.keras")
    app = AppTest.from_function(neighbours_page, args=(model_path,), default_timeout=120).run()
    assert not app.exception and not app.error
    text = " ".join(element.value for element in [*app.markdown, *app.caption])
    for block in range(1, 6):
        assert f"**Block {block}**" in text
    assert "The network's answer" in text and "Block 5's 8 nearest training images vote" in text
    assert text.count("the network's answer.") == 5
    votes = [re.fullmatch(r"(\w+): (\d) of 8", line.strip()) for element in app.markdown
             for line in element.value.split("\n")]
    assert sum(int(vote[2]) for vote in votes if vote) == 8
    pictures = [picture for element in app.get("image") for picture in element.proto.imgs]
    assert len(pictures) == 1 + 5 * 8
    (saved,) = app_environment.glob("tiny/model.neighbours-*.npz")
    written = saved.stat().st_mtime_ns
    # Another session: the same index, not built again.
    again = AppTest.from_function(neighbours_page, args=(model_path,), default_timeout=120).run()
    assert not again.exception and len(again.get("image")) == len(app.get("image"))
    assert saved.stat().st_mtime_ns == written


def test_a_dead_block_5_has_no_neighbours_and_casts_no_vote(app_environment, monkeypatch, tmp_path):
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
    assert len([picture for element in app.get("image") for picture in element.proto.imgs]) == 1 + 4 * 8
