"""Real training: a narrow VGG learns, and runs live as folders through start, stop, resume and failure."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import PROJECT_ROOT, png_bytes, subprocess_environment, tiny_config, train_quietly
from vgg.classroom.launch import launch, wait_for
from vgg.core.files import write_json
from vgg.explain.predictor import evaluate, load_model
from vgg.runs.folder import create_run, open_run


def test_a_narrow_vgg16_learns_the_generated_classes(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=4), name="learn")
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    epochs = list(run.metrics().epochs)
    assert [row.epoch for row in epochs] == [1, 2, 3, 4]
    assert epochs[-1].val_accuracy >= 0.9
    assert epochs[-1].loss < epochs[0].loss
    # The final model, reloaded from disk in safe mode, scores the same on the held-out images.
    from vgg.data.cifar10 import load_cifar10

    dataset = load_cifar10(image_folder, validation_size=100)
    model = load_model(run.model_path, tmp_path / "runs")
    result = evaluate(model, dataset.x_val, dataset.y_val)
    assert result["accuracy"] >= 0.9
    # The run records that final score, as the app predicts, for the Train page and the CLI.
    assert status.final_accuracy == result["accuracy"]
    assert status.final_single_view_accuracy == result["single_view_accuracy"]
    assert status.device.startswith(("CPU", "GPU"))
    assert (run.path / "tensorboard").is_dir()


def test_batch_and_epoch_lines_carry_every_metric(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=1), name="metrics")
    train_quietly(run, image_folder)
    rows = run.metrics()
    batch = rows.batches[0]
    epoch = rows.epochs[0]
    for key in ("step", "epoch", "loss", "accuracy", "learning_rate", "images_per_second", "elapsed"):
        assert getattr(batch, key) is not None and getattr(epoch, key) is not None
    assert epoch.val_accuracy is not None and epoch.val_loss is not None
    steps = [row.step for row in rows.batches]
    assert steps == sorted(steps) and len(steps) >= 10


def test_run_lifecycle_live_metrics_stop_and_resume(image_folder, tmp_path):
    runs_dir = tmp_path / "runs"
    # Many small batches with a slow logging pace would hide nothing: log every batch.
    run, process = launch(runs_dir, "life", config=tiny_config(epochs=6, batch_size=8), data_dir=image_folder)
    assert wait_for(run, ("running",), 60).state == "running"
    # Metrics appear while the run trains, not only at its end.
    deadline = time.monotonic() + 90
    while len(run.metrics().rows()) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(run.metrics().rows()) >= 5 and run.status().state == "running"

    # A second start while one trains waits in the queue; cancelled there, it never trains.
    second, second_process = launch(runs_dir, "second", config=tiny_config())
    assert second_process is None and second.status().state == "queued"
    second.request_stop()
    assert second.status().state == "stopped" and "queue" in second.status().error

    run.request_stop()
    assert process.wait(timeout=120) == 0
    status = run.status()
    assert status.state == "stopped"
    assert run.checkpoint_path.exists()
    checkpoint = json.loads((run.path / "checkpoint.json").read_text())
    steps_before = [row.step for row in run.metrics().rows()]
    assert max(steps_before) >= checkpoint["step"]

    run, process = launch(runs_dir, "life", data_dir=image_folder, resume=True)
    assert process.wait(timeout=300) == 0
    assert run.status().state == "finished"
    rows = run.metrics()
    steps = [row.step for row in rows.batches]
    assert steps == sorted(steps), "metrics continue where the checkpoint left them"
    assert steps[-1] > checkpoint["step"]
    assert [row.epoch for row in rows.epochs][-1] == 6
    assert run.model_path.exists()


def test_a_run_killed_hard_shows_interrupted_and_resumes(image_folder, tmp_path):
    runs_dir = tmp_path / "runs"
    run, process = launch(runs_dir, "killed", config=tiny_config(epochs=30, batch_size=8), data_dir=image_folder)
    deadline = time.monotonic() + 120
    while (
        not (run.checkpoint_path.exists() and (run.path / "checkpoint.json").exists()) and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert run.checkpoint_path.exists()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert run.status().state == "interrupted"
    checkpoint = json.loads((run.path / "checkpoint.json").read_text())
    # Resume it with a short horizon, so the test ends soon; metrics stay readable.
    config = run.config().replace(epochs=checkpoint["epochs_done"] + 1)
    write_json(run.config_path, json.loads(config.to_json()))
    run, process = launch(runs_dir, "killed", data_dir=image_folder, resume=True)
    assert process.wait(timeout=300) == 0
    assert run.status().state == "finished"
    epochs = [row.epoch for row in run.metrics().epochs]
    assert epochs == list(range(1, checkpoint["epochs_done"] + 2))


def test_a_run_stopped_while_it_starts_shows_stopped_and_resumes(image_folder, tmp_path):
    runs_dir = tmp_path / "runs"
    run, process = launch(runs_dir, "early", config=tiny_config(epochs=2), data_dir=image_folder)
    # Pressed at once: the process is still importing TensorFlow and dies of the signal, unsaved.
    run.request_stop()
    process.wait(timeout=120)
    assert run.status().state == "stopped"
    assert not run.checkpoint_path.exists()
    run, process = launch(runs_dir, "early", data_dir=image_folder, resume=True)
    assert process.wait(timeout=300) == 0
    assert run.status().state == "finished"


def test_a_failing_run_is_recorded_as_failed_with_its_reason(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="broken")
    status = train_quietly(run, tmp_path / "missing")
    assert status.state == "failed"
    assert "has no train/ folder" in status.error
    assert open_run(tmp_path / "runs", "broken").status().state == "failed"


# `python -m vgg train` options of a run like tiny_config's, printing its result as JSON.
TINY_OPTIONS = shlex.split(
    "--width 0.125 --epochs 3 --batch-size 32 --validation-size 100 --warmup-epochs 0 --learning-rate 0.05 "
    "--no-augment --jit-compile off --json"
)


def tiny_train_command(image_folder, runs_dir, name):
    return [
        sys.executable,
        "-m",
        "vgg",
        "train",
        "--data-dir",
        str(image_folder),
        "--runs-dir",
        str(runs_dir),
        "--name",
        name,
        *TINY_OPTIONS,
    ]


def test_cli_train_on_images_then_predict_evaluate_and_list(image_folder, tmp_path):
    runs_dir = tmp_path / "runs"
    environment = subprocess_environment()
    command = [sys.executable, "-m", "vgg"]
    train = subprocess.run(
        tiny_train_command(image_folder, runs_dir, "cli"),
        capture_output=True,
        text=True,
        env=environment,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    assert json.loads(train.stdout)["state"] == "finished"

    listing = subprocess.run(
        command + ["runs", "--runs-dir", str(runs_dir), "--json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert [row["name"] for row in json.loads(listing.stdout)] == ["cli"]

    evaluation = subprocess.run(
        command
        + [
            "evaluate",
            "--run",
            "cli",
            "--runs-dir",
            str(runs_dir),
            "--data-dir",
            str(image_folder),
            "--validation-size",
            "100",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    result = json.loads(evaluation.stdout)
    assert result["accuracy"] >= 0.8 and len(result["per_class_accuracy"]) == 10
    assert np.array(result["confusion_matrix"]).sum() == 100

    image = next((image_folder / "train" / "ship").iterdir())
    noise = tmp_path / "noise.png"
    noise.write_bytes(png_bytes(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    prediction = subprocess.run(
        command
        + ["predict", str(image), str(noise), "--run", "cli", "--runs-dir", str(runs_dir), "--top-k", "3"]
        + ["--data-dir", str(image_folder), "--json"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    ship, noisy = json.loads(prediction.stdout)["predictions"]
    assert len(ship["top"]) == 3 and ship["top"][0]["class"] == "ship"
    # Beside its top classes, each image's unfamiliar score, the line past which it is flagged, and the flag.
    for result in (ship, noisy):
        assert 0 <= result["unfamiliar_score"] <= 1 and 0.5 < result["unfamiliar_threshold"] < 1
        assert result["unfamiliar"] == (result["unfamiliar_score"] > result["unfamiliar_threshold"])
    # A training image is nearer its model's training images than noise is.
    assert not ship["unfamiliar"] and noisy["unfamiliar_score"] > ship["unfamiliar_score"]


@pytest.mark.parametrize(
    "arguments, phrase",
    [
        (["train", "--epochs", "0"], "epochs must be between 1 and 1000"),
        (["train", "--epochs", "3", "--average-from-epoch", "5"], "average_from_epoch must be between 0 and 3"),
        (["train", "--resume", "../../etc"], "A run name uses letters"),
        (["predict", "/nonexistent.png", "--model", "/tmp/x.h5"], "Only .keras model files"),
        (["describe", "--model", "/etc/passwd.keras"], "outside the runs folder"),
        (["evaluate", "--run", "nope"], "No run named 'nope'"),
        (
            ["train", "--init-from", "assets/no-such-model.keras"],
            "There is no model file at assets/no-such-model.keras",
        ),
    ],
)
def test_cli_bad_input_gets_one_sentence_and_exit_code_2(arguments, phrase, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "vgg"] + arguments,
        capture_output=True,
        text=True,
        env=subprocess_environment(VGG_RUNS_DIR=tmp_path),
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and phrase in errors[0], result.stderr[-1000:]
    assert "Traceback" not in result.stderr


def test_describe_blog_preset_reports_its_parameters():
    result = subprocess.run(
        [sys.executable, "-m", "vgg", "describe", "--preset", "blog", "--json"],
        capture_output=True,
        text=True,
        env=subprocess_environment(),
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    description = json.loads(result.stdout)
    assert description["params"] == 33_638_218
    assert [row["name"] for row in description["layers"]][-3:] == ["fc1", "fc2", "predictions"]


def test_mirrored_strategy_trains_over_two_logical_cpus(image_folder, tmp_path):
    """The multi-GPU path (tf.distribute.MirroredStrategy), run on two logical CPU devices."""
    runs_dir = tmp_path / "runs"
    result = subprocess.run(
        tiny_train_command(image_folder, runs_dir, "mirrored"),
        capture_output=True,
        text=True,
        env=subprocess_environment(VGG_CPU_REPLICAS=2),
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status = open_run(runs_dir, "mirrored").status()
    assert status.state == "finished" and status.replicas == 2
    assert json.loads(result.stdout)["val_accuracy"] >= 0.8
