"""Nearest training images per block: a saved index that is read back, answers as brute force does, finds the class
at block 5 more than at block 1 on the shipped model, survives a damaged file, and draws on a page."""

import functools
import threading
import time

import keras
import numpy as np
import pytest

from helpers import SHARED_CIFAR10, assert_one_sentence, real_cifar10
from vgg.explain import neighbours, unfamiliar
from vgg.model.build import build_vgg


def no_model():
    raise AssertionError("The saved index was not read back: the model was asked for again.")


@functools.cache
def pooling_output(model, block):
    return keras.Model(model.inputs, model.get_layer(f"block{block}_pool").output)


def brute_force_similarities(model, images, query, block):
    """Cosine similarities of `query` to every image at `block`, from the pooling layer's output itself."""
    # Called eagerly, once per block's model: predict() would trace a new function at every call.
    pool = pooling_output(model, block)
    features = np.asarray(pool([np.concatenate([query[None], images]).astype(np.float32)], training=False))
    features = features.mean(axis=(1, 2))
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return features[1:] @ features[0]


@pytest.fixture(scope="module")
def small_real_data(tmp_path_factory):
    if not (SHARED_CIFAR10 / "train").is_dir():
        pytest.skip("no CIFAR-10 at ../shared")
    return real_cifar10(tmp_path_factory.mktemp("cifar"), per_class=40, validation_size=80)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    """A tiny VGG16 with random weights, saved: (model, path). The index does not need a trained one."""
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


def test_a_saved_index_is_read_back_without_the_model_and_answers_as_brute_force(small_real_data, random_model):
    dataset, (model, path) = small_real_data, random_model
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


def test_two_sessions_asking_at_once_build_the_index_once(small_real_data, random_model, tmp_path):
    dataset, (model, _) = small_real_data, random_model
    path = tmp_path / "model.keras"
    model.save(path)
    indices = neighbours.training_subset(dataset.y_train, 200)
    key = neighbours.index_key(path, neighbours.data_id(dataset, 80, 0, indices))
    first_progress, second_progress, answers = [], [], {}

    def first():
        answers["first"] = neighbours.index_of(
            key, dataset, indices, lambda: model, lambda done, total: first_progress.append(done)
        )

    builder = threading.Thread(target=first)
    builder.start()
    while not first_progress:  # The first session is building.
        time.sleep(0.01)
    # The second session never gets the model: it waits for the first and reads the saved file.
    answers["second"] = neighbours.index_of(
        key, dataset, indices, no_model, lambda done, total: second_progress.append(done)
    )
    builder.join()
    assert answers["first"][1] is None and answers["second"][1] is None
    assert np.array_equal(answers["second"][0].features[4], answers["first"][0].features[4].astype(np.float16))
    # The 200 training images and the 80 validation images the index is calibrated on, in one count.
    assert first_progress[-1] == 280 and all(done <= 280 for done in second_progress)  # Any it saw: the first's.


def test_the_index_read_back_flags_one_in_twenty_of_its_validation_images_as_the_built_one_did(
    small_real_data, random_model
):
    dataset, (model, path) = small_real_data, random_model
    key, indices, built = saved_index(dataset, model, path)
    index, _ = neighbours.index_of(key, dataset, indices, no_model)
    calibration = index.calibration
    assert calibration.threshold == built.calibration.threshold
    assert [len(block) for block in calibration.distances] == [80, 80]
    # By construction, 4 of its 80 validation images are past the line: 5%.
    scores = calibration.scores(
        unfamiliar.block_distances(index.features, neighbours.pooled_features(model, dataset.x_val))
    )
    assert np.sum(scores > calibration.threshold) == 4
    # One validation image asked alone, as Predict asks an upload, scores as in the batch.
    one = unfamiliar.familiarity(calibration, index.features, neighbours.image_features(model, dataset.x_val[7]))
    assert one.score == pytest.approx(scores[7], abs=1 / 80) and one.threshold == calibration.threshold


@pytest.mark.parametrize("damage", ["random bytes", "cut short", "other image count"])
def test_a_damaged_index_is_built_again(small_real_data, random_model, damage):
    dataset, (model, path) = small_real_data, random_model
    key, indices, index = saved_index(dataset, model, path)
    if damage == "random bytes":
        key.file.write_bytes(np.random.default_rng(0).bytes(5000))
    elif damage == "cut short":
        key.file.write_bytes(key.file.read_bytes()[:3000])
    else:
        shorter = neighbours.NeighbourIndex(
            index.indices[:50], tuple(f[:50] for f in index.features), index.labels[:50], 0.0
        )
        neighbours.save(key, shorter)
    assert neighbours.load_saved(key, dataset, indices) is None
    with pytest.raises(AssertionError, match="not read back"):
        neighbours.index_of(key, dataset, indices, no_model)
    rebuilt, problem = neighbours.index_of(key, dataset, indices, lambda: model)
    assert problem is None and len(rebuilt.indices) == 200
    assert neighbours.load_saved(key, dataset, indices) is not None


def test_an_index_that_cannot_be_saved_is_used_and_said_in_one_sentence(small_real_data, random_model):
    dataset, (model, path) = small_real_data, random_model
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


def test_a_new_model_file_gets_a_new_index_and_the_old_one_is_removed(small_real_data, random_model, tmp_path):
    dataset, (model, _) = small_real_data, random_model
    path = tmp_path / "model.keras"
    model.save(path)
    old_key, _, _ = saved_index(dataset, model, path)
    keras.utils.set_random_seed(4)
    other = build_vgg(width=0.125, batch_norm=True, head="linear")
    other.save(path)
    new_key, _, _ = saved_index(dataset, other, path)
    assert new_key.file != old_key.file and new_key.file.exists() and not old_key.file.exists()
