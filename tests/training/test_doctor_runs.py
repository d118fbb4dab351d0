"""The training doctor on real runs over the generated images: healthy, stuck, diverged, too slow, overfit, and a
probe that fails; its command; and the bench's measure of the probes' cost."""

import json
import math
import pathlib

import numpy as np
import pytest

from helpers import assert_one_sentence, class_templates, generated_images, tiny_config, train_quietly
from vgg.classroom.doctor import Verdict, diagnose, diagnose_records
from vgg.cli import main
from vgg.core.config import PRESETS
from vgg.data.cifar10 import CLASS_NAMES
from vgg.runs.diagnostics import (
    Diagnostics,
    NonFiniteRow,
    read_diagnostics,
)
from vgg.runs.folder import create_run
from vgg.runs.metrics import row_line


def test_a_batch_norm_run_is_healthy(tiny_run):
    diagnosis = diagnose(tiny_run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.HEALTHY, diagnosis.sentence
    assert_one_sentence(diagnosis.sentence)


def test_a_run_records_its_probes_as_defined(tiny_run):
    diagnostics = read_diagnostics(tiny_run)
    # 480 training images in batches of 32: 15 steps an epoch, a probe every 3 in the first, then one per epoch.
    assert [row.step for row in diagnostics.probes] == [3, 6, 9, 12, 15, 30, 45]
    assert diagnostics.probes[-1].epoch == 3 and diagnostics.errors == () and diagnostics.nonfinite == ()
    assert diagnostics.unit_names == ("block1", "block2", "block3", "block4", "block5", "fc1", "predictions")
    for row in diagnostics.probes:
        assert row.images == 100  # Every validation image the tiny config holds out (at most 200).
        for unit in row.units:
            assert unit.gradient_norm > 0 and unit.weight_norm > 0 and 0 < unit.update_ratio < 1
            if unit.name != "predictions":
                assert 0 <= unit.dead_fraction <= 1 and unit.activation_mean >= 0 and unit.activation_std >= 0


def test_the_doctor_command_prints_the_verdict_its_evidence_and_the_fix(tiny_run, capsys):
    runs_dir = str(tiny_run.path.parent)
    assert main(["doctor", tiny_run.name, "--runs-dir", runs_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "healthy"
    # A diverged copy of the run: the verdict, its numbers, and the command that starts the fix.
    copy = create_run(runs_dir, tiny_run.config(), name="copy", preset="cpu", data_dir="data")
    copy.diagnostics_path.write_bytes(tiny_run.diagnostics_path.read_bytes())
    with open(copy.diagnostics_path, "a") as file:
        file.write(row_line(NonFiniteRow(50, 3.3, "training loss", math.nan)))
    assert main(["doctor", "copy", "--runs-dir", runs_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "copy: diverged" and "NaN" in lines[1].replace("nan", "NaN")
    assert any(line.startswith("Fix: Try a learning rate of 0.005") for line in lines)
    assert "python -m vgg train --preset cpu --data-dir data" in lines[-1] and "--learning-rate 0.005" in lines[-1]
    for name in ("nope", "damaged"):
        if name == "damaged":
            create_run(runs_dir, tiny_config(), name="damaged").diagnostics_path.write_text("[1, 2]\n")
        assert main(["doctor", name, "--runs-dir", runs_dir]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and (name == "nope" or "diagnostics.jsonl" in error)
        assert_one_sentence(error)


def test_the_blog_recipe_is_stuck_at_chance_with_dead_late_relus_within_its_first_epoch(image_folder, tmp_path):
    # The blog's model and recipe (no batch norm, Dense 4096-4096, Adam 1e-3, batch 32) at a quarter width.
    config = PRESETS["blog"].replace(width=0.25, epochs=1, validation_size=100, log_every_seconds=0.0)
    run = create_run(tmp_path / "runs", config, name="blog")
    assert train_quietly(run, image_folder).state == "finished"
    diagnosis = diagnose(run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.STUCK, diagnosis.sentence
    dead = diagnosis.evidence["dead_units"]
    assert "block5" in dead and set(dead) <= {"block4", "block5", "fc1", "fc2"}  # Blocks 1-3 live.
    # Batch norm alone leaves the Dense 4096 layers to Adam's steps of 1e-3: the fix lowers the rate too.
    assert diagnosis.fix_changes == {"batch_norm": True, "learning_rate": 1e-4}
    # Live, the doctor said so before the epoch ended: already from its second probe.
    diagnostics, metrics = read_diagnostics(run), run.metrics()
    live = [
        diagnose_records(config, Diagnostics(diagnostics.probes[:count]), metrics).verdict
        for count in range(1, len(diagnostics.probes) + 1)
    ]
    assert live[0] == Verdict.WAITING and set(live[1:]) == {Verdict.STUCK}
    assert diagnostics.probes[1].epoch < 1


def test_a_learning_rate_of_5_diverges(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=1, learning_rate=5.0), name="five")
    assert train_quietly(run, image_folder).state == "finished"
    diagnosis = diagnose(run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.DIVERGED, diagnosis.sentence
    assert diagnosis.fix_changes["learning_rate"] == 0.5


def test_a_tiny_learning_rate_learns_too_slowly(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=2, learning_rate=1e-5), name="slow")
    assert train_quietly(run, image_folder).state == "finished"
    diagnosis = diagnose(run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.TOO_SLOW, diagnosis.sentence
    assert diagnosis.fix_changes == {"learning_rate": pytest.approx(1e-4)}


def write_hard_image_folder(root, per_class=30, template_share=0.35, seed=0):
    """Each class's pattern faint under a random background of its own per image: three images of a class say
    little about the next, so a network trained on so few memorizes them instead."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    templates = class_templates()
    for label, name in enumerate(CLASS_NAMES):
        folder = pathlib.Path(root) / "train" / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            background = np.kron(rng.uniform(0, 255, size=(8, 8, 3)), np.ones((4, 4, 1)))
            image = template_share * templates[label] + (1 - template_share) * background
            image += rng.normal(0, 20, size=image.shape)
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"{index:04d}.png")
    return pathlib.Path(root)


def test_three_images_a_class_for_fifteen_epochs_overfit(tmp_path):
    folder = write_hard_image_folder(tmp_path / "data")
    config = tiny_config(train_subset=30, batch_size=10, epochs=15, learning_rate=0.02, warmup_epochs=1.0)
    run = create_run(tmp_path / "runs", config, name="memorize")
    assert train_quietly(run, folder).state == "finished"
    diagnosis = diagnose(run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.OVERFITTING, diagnosis.sentence
    assert diagnosis.evidence["accuracy"] >= 0.95 and diagnosis.evidence["gap"] >= 0.3
    assert diagnosis.fix_changes == {"augment": True}


def test_a_failing_probe_is_recorded_once_and_training_goes_on(image_folder, tmp_path, monkeypatch):
    import vgg.training.probes

    calls = []

    def broken(*args):
        calls.append(args)
        raise RuntimeError("no probe today")

    monkeypatch.setattr(vgg.training.probes, "probe_row", broken)
    run = create_run(tmp_path / "runs", tiny_config(epochs=1), name="broken-probe")
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    diagnostics = read_diagnostics(run)
    assert len(calls) == 1 and diagnostics.probes == () and len(diagnostics.errors) == 1
    assert "no probe today" in diagnostics.errors[0].error and diagnostics.errors[0].step == 3
    assert run.metrics().epochs[-1].step == 15
    assert diagnose(run).verdict == Verdict.WAITING and "probes stopped" in diagnose(run).sentence


def test_the_bench_measures_the_probes_cost(tmp_path):
    from benchmarks.probe_cost import probe_cost

    images, labels = generated_images(per_class=10)
    cost = probe_cost(
        tiny_config(), images, labels, images[:50], labels[:50], tmp_path, rounds=1, steps=2, warmup_steps=2
    )
    assert all(cost[name] > 0 for name in ("wall_without", "wall_with", "cpu_without", "cpu_with"))
    assert 0 < cost["probe_share"] < 1
