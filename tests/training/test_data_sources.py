"""Where the images come from: without a network the download says how to use a local copy (a fresh Python that
imports TensorFlow), and the real CIFAR-10 folder splits into 45,000 and 5,000 images."""

import subprocess
import sys

import numpy as np
import pytest

from helpers import SHARED_CIFAR10, subprocess_environment
from vgg.data.cifar10 import load_cifar10


def test_download_without_network_says_how_to_use_a_local_copy(tmp_path):
    # A fresh process, since Keras reads KERAS_HOME once at import: its empty cache forces a real
    # download, and a proxy on a closed local port makes that fail at once, network or not.
    proxy = "http://127.0.0.1:9"
    environment = subprocess_environment(
        KERAS_HOME=tmp_path, HTTPS_PROXY=proxy, https_proxy=proxy, HTTP_PROXY=proxy, http_proxy=proxy
    )
    environment.pop("VGG_DATA_DIR", None)
    result = subprocess.run(
        [sys.executable, "-c", "import vgg.data.cifar10; vgg.data.cifar10.load_cifar10(None)"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DataError" in result.stderr and "VGG_DATA_DIR" in result.stderr.splitlines()[-1]


@pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")
def test_real_cifar10_folder_has_45000_training_and_5000_validation_images():
    dataset = load_cifar10(SHARED_CIFAR10)
    assert dataset.x_train.shape == (45000, 32, 32, 3)
    assert np.bincount(dataset.y_val).tolist() == [500] * 10
