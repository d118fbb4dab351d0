import numpy as np
import pytest

from helpers import write_image_folder
from vgg.data import cifar10 as data
from vgg.data.cifar10 import CLASS_NAMES, DataError, augment_batch, balanced_split, load_cifar10


def test_image_folder_loads_in_cifar10_label_order_with_balanced_validation(image_folder):
    dataset = load_cifar10(image_folder, validation_size=100, seed=0)
    assert dataset.class_names == CLASS_NAMES
    assert dataset.x_train.shape == (500, 32, 32, 3) and dataset.x_train.dtype == np.uint8
    assert np.bincount(dataset.y_val).tolist() == [10] * 10
    assert np.bincount(dataset.y_train).tolist() == [50] * 10
    assert "held out" in dataset.source


def test_validation_split_is_fixed_by_its_seed_and_disjoint():
    labels = np.repeat(np.arange(10), 50)
    train_a, val_a = balanced_split(labels, 100, seed=7)
    train_b, val_b = balanced_split(labels, 100, seed=7)
    _, val_c = balanced_split(labels, 100, seed=8)
    assert np.array_equal(val_a, val_b) and not np.array_equal(val_a, val_c)
    assert not set(train_a) & set(val_a) and len(train_a) + len(val_a) == 500


def test_second_load_comes_from_the_cache_and_matches(image_folder, monkeypatch):
    first = load_cifar10(image_folder, validation_size=100)
    assert list(data.cache_dir().glob("images-*.npz"))
    monkeypatch.setattr(data, "_decode_32x32", lambda path: pytest.fail(f"{path} was decoded again"))
    second = load_cifar10(image_folder, validation_size=100)
    assert np.array_equal(first.x_train, second.x_train) and np.array_equal(first.y_val, second.y_val)


def test_cache_key_changes_when_a_file_changes(tmp_path):
    root = write_image_folder(tmp_path / "d", per_class=3)
    before = load_cifar10(root, validation_size=10).x_train.copy()
    victim = sorted((root / "train" / "cat").iterdir())[0]
    from PIL import Image

    Image.new("RGB", (32, 32), (255, 0, 0)).save(victim)
    after = load_cifar10(root, validation_size=10)
    assert len(list(data.cache_dir().glob("images-*.npz"))) == 2
    assert not np.array_equal(np.sort(before, axis=0), np.sort(np.concatenate([after.x_train, after.x_val]), axis=0))


def test_a_folder_without_train_says_how_it_must_look(tmp_path):
    with pytest.raises(DataError, match="root/train/<class>"):
        load_cifar10(tmp_path)


def test_a_broken_image_file_is_named(tmp_path):
    root = write_image_folder(tmp_path / "d", per_class=3)
    (root / "train" / "dog" / "9999.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="9999.png is not a readable image"):
        load_cifar10(root, validation_size=10)


def test_augmentation_shifts_and_flips_but_keeps_the_picture():
    rng = np.random.default_rng(0)
    images = rng.integers(1, 255, size=(16, 32, 32, 3)).astype(np.uint8)
    augmented = augment_batch(images, [3, 4]).numpy()
    assert augmented.shape == images.shape and augmented.dtype == np.uint8
    again = augment_batch(images, [3, 4]).numpy()
    assert np.array_equal(augmented, again)
    assert not np.array_equal(augmented, images)
    for original, result in zip(images, augmented, strict=True):
        # Some shift by at most 4 pixels, maybe mirrored, must reproduce the centre exactly.
        candidates = [original, original[:, ::-1]]
        assert any(
            np.array_equal(result[8:24, 8:24], np.roll(candidate, (dy, dx), axis=(0, 1))[8:24, 8:24])
            for candidate in candidates
            for dy in range(-4, 5)
            for dx in range(-4, 5)
        )


def test_cutout_hides_one_square_and_leaves_the_rest_as_without_it():
    rng = np.random.default_rng(1)
    # No zero pixels in the images, so every zero after augmentation is padding or the cut-out square.
    images = rng.integers(1, 255, size=(64, 32, 32, 3)).astype(np.uint8)
    plain = augment_batch(images, [5, 6]).numpy()
    cut = augment_batch(images, [5, 6], cutout_size=12).numpy()
    changed = np.any(cut != plain, axis=-1)
    assert np.all(cut[np.broadcast_to(changed[..., None], cut.shape)] == 0)
    for mask in changed:
        rows, columns = np.nonzero(mask)
        if rows.size:  # A square centred off a black padded edge may change nothing visible.
            assert rows.max() - rows.min() < 12 and columns.max() - columns.min() < 12
    hidden_pixels = changed.sum(axis=(1, 2))
    # Centres fall anywhere, so most squares are whole (144 pixels) and some hang off the edge.
    assert hidden_pixels.max() == 144 and 0 < hidden_pixels.mean() < 144
