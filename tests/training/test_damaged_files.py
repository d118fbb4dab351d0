"""Damaged files: a corrupt checkpoint, and run files cut short by a crash. A resume that cannot read its
checkpoint fails in one sentence and keeps the run; a run whose files were torn is still listed.
"""

import json
import random
import shutil
import subprocess
import sys

import pytest

from helpers import PROJECT_ROOT, assert_one_sentence, subprocess_environment, tiny_config, train_quietly
from vgg.classroom.launch import active_run
from vgg.core.files import write_json
from vgg.runs.folder import create_run, list_runs, open_run
from vgg.runs.metrics import BatchRow, EpochRow, row_line


@pytest.mark.parametrize("damage", ["random bytes", "empty file", "first half of the zip"])
def test_resuming_from_a_corrupt_checkpoint_fails_in_one_sentence_and_keeps_the_run(
    damage, trained_runs_dir, image_folder, tmp_path
):
    runs_dir = tmp_path / "runs"
    shutil.copytree(trained_runs_dir / "tiny", runs_dir / "broken")
    run = open_run(runs_dir, "broken")
    write_json(run.config_path, json.loads(run.config().replace(epochs=5).to_json()))
    # As if the run died after epoch 3's lines but before its checkpoint: a resume that read the
    # checkpoint would cut the metrics back to epoch 2, so any cut shows.
    epoch_two = next(row for row in run.metrics().epochs if row.epoch == 2)
    write_json(run.path / "checkpoint.json", {"epochs_done": 2, "step": epoch_two.step, "elapsed": epoch_two.elapsed})
    real = run.checkpoint_path.read_bytes()
    run.checkpoint_path.write_bytes(
        {
            "random bytes": random.Random(1).randbytes(len(real)),
            "empty file": b"",
            "first half of the zip": real[: len(real) // 2],
        }[damage]
    )
    kept = {
        name: (run.path / name).read_bytes()
        for name in ("metrics.jsonl", "config.json", "checkpoint.json", "checkpoint.keras", "model.keras")
    }

    status = train_quietly(run, image_folder)

    print(f"{damage}: {status.state}: {status.error}")
    assert status.state == "failed"
    assert "checkpoint" in status.error and "cannot be read" in status.error
    assert_one_sentence(status.error)
    assert open_run(runs_dir, "broken").status().state == "failed"
    for name, content in kept.items():
        assert (run.path / name).read_bytes() == content, f"{name} changed"


def metrics_lines(epochs=3, steps_per_epoch=4):
    lines = []
    for epoch in range(epochs):
        for batch in range(steps_per_epoch):
            step = epoch * steps_per_epoch + batch + 1
            lines.append(
                row_line(
                    BatchRow(
                        step=step,
                        epoch=epoch + (batch + 1) / steps_per_epoch,
                        loss=2.0 / step,
                        accuracy=0.1 * epoch,
                        learning_rate=0.1,
                        images_per_second=100.0,
                        elapsed=float(step),
                    )
                )
            )
        lines.append(
            row_line(
                EpochRow(
                    step=(epoch + 1) * steps_per_epoch,
                    epoch=epoch + 1,
                    loss=1.0 / (epoch + 1),
                    accuracy=0.5,
                    val_loss=1.0,
                    val_accuracy=0.3 + 0.2 * epoch,
                    learning_rate=0.1,
                    images_per_second=100.0,
                    elapsed=float(epoch + 1),
                )
            )
        )
    return lines


def test_runs_with_files_cut_short_are_still_listed(tmp_path):
    runs_dir = tmp_path / "runs"
    complete = "".join(metrics_lines())
    last_epoch_line = metrics_lines()[-1]
    damaged = {
        # name: (what happens to status.json, metrics.jsonl content, expected state, expected epochs done)
        "status-half": ("half", complete, "damaged", 3),
        "status-empty": ("empty", complete, "damaged", 3),
        "status-zeros": ("zeros", complete, "damaged", 3),
        "status-one-brace": ("brace", complete, "damaged", 3),
        "metrics-torn": (None, complete[: -len(last_epoch_line) // 2], "created", 2),
        "metrics-zeros": (None, complete + "\0" * 300, "created", 3),
        # Appending after a crash glues the first new line to the torn one: that line is lost, the rest read.
        "metrics-torn-then-appended": (
            None,
            "".join(metrics_lines(2)) + '{"kind": "batch", "st' + "".join(metrics_lines(3)[-5:]),
            "created",
            3,
        ),
        "metrics-no-newline": (None, complete.rstrip("\n"), "created", 3),
        "both-torn": ("half", complete[: -len(last_epoch_line) // 2], "damaged", 2),
    }
    for name, (status_damage, metrics, _, _) in damaged.items():
        run = create_run(runs_dir, tiny_config(), name=name)
        run.metrics_path.write_text(metrics)
        text = run.status_path.read_text()
        if status_damage:
            run.status_path.write_text(
                {"half": text[: len(text) // 2], "empty": "", "zeros": "\0" * len(text), "brace": "{"}[status_damage]
            )

    listed = {run.name: run.summary() for run in list_runs(runs_dir)}
    assert sorted(listed) == sorted(damaged)
    for name, (_, _, state, epochs_done) in damaged.items():
        assert listed[name].state == state, (name, listed[name])
        assert listed[name].epochs_done == epochs_done, (name, listed[name])
        assert listed[name].epochs == tiny_config().epochs
    assert active_run(runs_dir) is None

    # The command line lists them too, in JSON and as text.
    for extra in (["--json"], []):
        result = subprocess.run(
            [sys.executable, "-m", "vgg", "runs", "--runs-dir", str(runs_dir)] + extra,
            capture_output=True,
            text=True,
            env=subprocess_environment(),
            cwd=PROJECT_ROOT,
            timeout=120,
        )
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
        for name in damaged:
            assert name in result.stdout
