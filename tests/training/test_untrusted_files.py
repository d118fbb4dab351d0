"""Untrusted model files from elsewhere are refused before they can run code. Real Keras files."""

import json
import pathlib
import random
import shutil

import pytest

from helpers import assert_one_sentence
from vgg.explain.predictor import ModelError, load_model


def lambda_model(path, marker):
    """Saves, as someone else would, a model whose Lambda layer touches `marker` when it runs."""
    import keras

    # Built from source text, so the saved bytecode carries the marker's path itself.
    function = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    inputs = keras.Input((32, 32, 3))
    flat = keras.layers.Flatten()(keras.layers.Lambda(function)(inputs))
    outputs = keras.layers.Dense(10, activation="softmax")(flat)
    keras.Model(inputs, outputs).save(path)
    marker.unlink()  # Building the model ran the lambda once; only a load may create it again.


def config_naming_os_system(good_model, path, marker):
    """A copy of a real .keras file whose config asks for os.system as an activation."""
    import zipfile

    with zipfile.ZipFile(good_model) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])

    def patch(node):
        if isinstance(node, dict):
            if node.get("class_name") == "Dense":
                node["config"]["activation"] = {
                    "module": "os",
                    "class_name": "system",
                    "config": f"touch {marker}",
                    "registered_name": "system",
                }
            for value in node.values():
                patch(value)
        elif isinstance(node, list):
            for value in node:
                patch(value)

    patch(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def test_load_model_refuses_untrusted_files_with_one_sentence(trained_runs_dir, tmp_path):
    good = trained_runs_dir / "tiny" / "model.keras"
    runs_dir = tmp_path / "runs"
    inside = runs_dir / "someone"
    inside.mkdir(parents=True)
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    marker = tmp_path / "code-ran"

    shutil.copy(good, inside / "model.keras")
    shutil.copy(good, inside / "model.h5")
    shutil.copy(good, elsewhere / "model.keras")
    (inside / "linked.keras").symlink_to(elsewhere / "model.keras")
    (runs_dir / "linked-run").symlink_to(elsewhere, target_is_directory=True)
    (inside / "random.keras").write_bytes(random.Random(0).randbytes(200_000))
    (inside / "empty.keras").write_bytes(b"")
    (inside / "half.keras").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (inside / "folder.keras").mkdir()
    with open(inside / "huge.keras", "wb") as file:
        file.truncate(601 * 2**20)  # Sparse: its size is refused before a byte is read.
    lambda_model(inside / "lambda.keras", marker)
    config_naming_os_system(good, inside / "os-system.keras", marker)

    # The project's own model still loads: the guard refuses files, not everything.
    assert load_model(inside / "model.keras", runs_dir).count_params() > 0

    cases = {
        inside / "model.h5": "Only .keras model files",
        elsewhere / "model.keras": "outside the runs folder",
        runs_dir / ".." / "downloads" / "model.keras": "outside the runs folder",
        inside / "linked.keras": "outside the runs folder",
        runs_dir / "linked-run" / "model.keras": "outside the runs folder",
        pathlib.Path("/etc/passwd.keras"): "outside the runs folder",
        inside / "random.keras": "not a readable Keras model",
        inside / "empty.keras": "not a readable Keras model",
        inside / "half.keras": "not a readable Keras model",
        inside / "folder.keras": "There is no model file",
        inside / "missing.keras": "There is no model file",
        inside / "huge.keras": "larger than 600 MB",
        inside / "lambda.keras": "contains Python code",
        inside / "os-system.keras": "not a readable Keras model",
    }
    answers = {}
    for path, phrase in cases.items():
        with pytest.raises(ModelError) as caught:
            load_model(path, runs_dir)
        answers[str(path)] = str(caught.value)
        assert phrase in str(caught.value), answers
        assert_one_sentence(str(caught.value))
    print("\n".join(f"{path}: {answer}" for path, answer in answers.items()))
    assert not marker.exists(), "a refused model file ran its code"
