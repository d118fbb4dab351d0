"""The shipped model's evaluation is saved in the data cache, not in assets/."""

import pytest

from vgg.explain.evaluation import (
    DEFAULT_SPLIT,
    evaluation_key,
    split_for,
)
from vgg.runs.record import SHIPPED_MODEL


def test_the_shipped_models_evaluation_goes_to_the_data_cache_not_assets(monkeypatch, tmp_path):
    if not SHIPPED_MODEL.exists():
        pytest.skip("no shipped model")
    monkeypatch.setenv("VGG_CACHE_DIR", str(tmp_path))
    key = evaluation_key(SHIPPED_MODEL, "0" * 64)
    assert key.file.parent == tmp_path / "evaluations"
    assert key.file.name.startswith(f"vgg16_cifar10.evaluation-{key.model_sha256[:16]}-")
    assert split_for(SHIPPED_MODEL) == DEFAULT_SPLIT
