"""Feature pictures without a trained model: the shipped model's go to the data cache, and first-layer filters
are told apart as colour or edge."""

import numpy as np

from vgg.explain.feature_vis import cache_file, first_layer_kinds


def test_the_shipped_models_pictures_go_to_the_data_cache(monkeypatch, tmp_path):
    from vgg.core.paths import ASSETS_DIR
    from vgg.runs.record import SHIPPED_MODEL

    monkeypatch.setenv("VGG_CACHE_DIR", str(tmp_path))
    file, sha = cache_file(SHIPPED_MODEL, "pictures", "classes-16")
    assert file.parent == tmp_path / "evaluations" and not file.is_relative_to(ASSETS_DIR)
    assert sha[:16] in file.name


def test_first_layer_filters_are_told_apart_as_colour_or_edge():
    colour = np.zeros((3, 3, 3, 1))
    colour[..., 0, 0] = 1.0  # Red everywhere: answers red wherever it is.
    edge = np.zeros((3, 3, 3, 1))
    edge[:, 0, :, 0], edge[:, 2, :, 0] = 1.0, -1.0  # Bright on the left, dark on the right.
    assert first_layer_kinds(np.concatenate([colour, edge], axis=3)) == ["colour", "edge"]
