"""The training doctor: the probes a run records (diagnostics.jsonl), the verdicts drawn from them, their
fixes, and `python -m vgg doctor`. Runs train for real on generated images; each rule also has a test on
hand-made records just either side of its threshold, so a broken rule fails one."""

import json
import math
import pathlib

import numpy as np
import pytest

from conftest import assert_one_sentence, class_templates, generated_images, tiny_config, train_run_quietly
from vgg.classroom.doctor import Verdict, diagnose, diagnose_records
from vgg.cli import main
from vgg.core.config import PRESETS, validate
from vgg.data.cifar10 import CLASS_NAMES
from vgg.runs.diagnostics import (
    LN10,
    Diagnostics,
    NonFiniteRow,
    ProbeErrorRow,
    ProbeRow,
    UnitProbe,
    heatmap,
    read_diagnostics,
    truncate_diagnostics,
)
from vgg.runs.folder import create_run
from vgg.runs.metrics import BatchRow, EpochRow, Metrics, row_line
from vgg.runs.status import DamagedRunError
from vgg.training.probes import probe_interval

UNITS = ("block1", "block2", "block3", "block4", "block5", "fc1", "predictions")


# --- Hand-made records ------------------------------------------------------------------------------------------


def probe(step, loss=0.8, spread=0.2, dead=None, relative_gradients=None, update=1e-3, nonfinite=()):
    """A probe of a healthy-looking network, with whatever the test changes."""
    dead, relative_gradients = dead or {}, relative_gradients or {}
    units = tuple(
        UnitProbe(name, None if name == "predictions" else 0.5, None if name == "predictions" else 0.8,
                  None if name == "predictions" else dead.get(name, 0.1),
                  gradient_norm=relative_gradients.get(name, 0.05) * 10.0, weight_norm=10.0, update_ratio=update)
        for name in UNITS
    )
    return ProbeRow(step=step, epoch=step / 100, learning_rate=0.1, loss=loss, accuracy=0.7, entropy=1.0,
                    prediction_spread=spread, images=200, units=units, nonfinite=tuple(nonfinite))


def batches(*losses):
    return tuple(BatchRow(step=10 * (index + 1), epoch=(index + 1) / 10, loss=loss, accuracy=0.5, learning_rate=0.1,
                          images_per_second=100.0, elapsed=float(index)) for index, loss in enumerate(losses))


def epochs(*accuracies):
    return tuple(EpochRow(step=100 * epoch, epoch=epoch, loss=1.0, accuracy=accuracy, val_loss=1.0,
                          val_accuracy=val_accuracy, learning_rate=0.1, images_per_second=100.0, elapsed=float(epoch))
                 for epoch, (accuracy, val_accuracy) in enumerate(accuracies, start=1))


def verdict_of(probes, losses=(2.4, 1.5, 1.2), accuracies=(), nonfinite=(), config=None):
    config = config or PRESETS["cpu"]
    metrics = Metrics(batches(*losses), epochs(*accuracies))
    return diagnose_records(config, Diagnostics(tuple(probes), tuple(nonfinite)), metrics)


def two(**changes):
    return [probe(20, **changes), probe(40, **changes)]


def test_healthy_records_are_healthy_and_one_probe_is_too_early():
    assert verdict_of(two()).verdict == Verdict.HEALTHY
    assert verdict_of(two()).fix_changes == {}
    assert verdict_of([probe(20)]).verdict == Verdict.WAITING
    assert verdict_of([]).verdict == Verdict.WAITING


def test_diverged_on_any_non_finite_value_or_a_training_loss_above_three_ln10_for_good():
    assert verdict_of(two(), nonfinite=[NonFiniteRow(7, 0.07, "training loss", math.nan)]).verdict == Verdict.DIVERGED
    assert verdict_of([probe(20), probe(40, nonfinite=["block3 weights"])]).verdict == Verdict.DIVERGED
    assert verdict_of(two(), losses=(2.4, 3 * LN10 + 0.1, 2.4)).verdict == Verdict.DIVERGED
    assert verdict_of(two(), losses=(2.4, 3 * LN10 - 0.1, 2.4)).verdict == Verdict.HEALTHY
    assert verdict_of(two(), losses=(2.4, 3 * LN10 + 0.1, 2.2)).verdict == Verdict.HEALTHY  # It came back.
    # It outranks every other rule: a network that blew up also sits at chance.
    stuck_and_blown = verdict_of(two(loss=LN10, spread=1e-6), losses=(2.3, math.inf))
    assert stuck_and_blown.verdict == Verdict.DIVERGED and Verdict.STUCK in stuck_and_blown.findings


def test_stuck_at_chance_needs_ln10_and_the_same_answer_on_two_probes_in_a_row():
    stuck = verdict_of(two(loss=LN10 + 0.015, spread=5e-4, dead={"block4": 0.3, "block5": 0.9, "fc1": 1.0}))
    assert stuck.verdict == Verdict.STUCK
    assert stuck.evidence["dead_units"] == {"block5": 0.9, "fc1": 1.0}
    assert "block 5" in stuck.sentence and "fc1" in stuck.sentence
    assert verdict_of(two(loss=LN10 + 0.03, spread=5e-4)).verdict != Verdict.STUCK  # Not at ln 10.
    assert verdict_of(two(loss=LN10, spread=2e-3)).verdict != Verdict.STUCK  # Answers differ by image.
    assert verdict_of([probe(20), probe(40, loss=LN10, spread=1e-6)]).verdict != Verdict.STUCK  # Once only.


def test_learning_too_slowly_when_no_weights_move_and_the_loss_stays():
    assert verdict_of(two(update=5e-5), losses=(2.4, 2.35, 2.3)).verdict == Verdict.TOO_SLOW
    assert verdict_of(two(update=2e-4), losses=(2.4, 2.35, 2.3)).verdict == Verdict.HEALTHY
    # Small steps that still make progress are not too slow.
    assert verdict_of(two(update=5e-5), losses=(2.4, 1.9, 1.8)).verdict == Verdict.HEALTHY


def test_dead_relus_when_half_a_block_or_nine_tenths_of_a_dense_layer_is_silent_on_two_probes_in_a_row():
    dead = verdict_of(two(dead={"block4": 0.55, "block5": 0.8, "fc1": 0.85}))
    assert dead.verdict == Verdict.DEAD_RELUS and dead.evidence["dead_units"] == {"block4": 0.55, "block5": 0.8}
    assert verdict_of(two(dead={"fc1": 0.95})).evidence["dead_units"] == {"fc1": 0.95}
    assert verdict_of(two(dead={"block5": 0.45, "fc1": 0.85})).verdict == Verdict.HEALTHY
    assert verdict_of([probe(20), probe(40, dead={"block5": 0.8})]).verdict == Verdict.HEALTHY


def test_vanishing_gradients_when_block1_gets_under_a_hundredth_of_the_late_units():
    fading = {"block1": 4e-5, "block2": 1e-4, "block5": 1e-3, "fc1": 5e-3, "predictions": 2e-3}
    vanishing = verdict_of(two(relative_gradients=fading))
    assert vanishing.verdict == Verdict.VANISHING
    assert vanishing.evidence["late_unit"] == "fc1" and vanishing.evidence["ratio"] == pytest.approx(4e-5 / 5e-3)
    assert verdict_of(two(relative_gradients=fading | {"block1": 6e-5})).verdict == Verdict.HEALTHY


def test_overfitting_when_the_gap_is_wide_and_has_grown():
    assert verdict_of(two(), accuracies=[(0.5, 0.5), (0.95, 0.7)]).verdict == Verdict.OVERFITTING
    assert verdict_of(two(), accuracies=[(0.5, 0.5), (0.85, 0.7)]).verdict == Verdict.HEALTHY  # Gap 0.15.
    assert verdict_of(two(), accuracies=[(0.6, 0.35), (0.95, 0.7)]).verdict == Verdict.HEALTHY  # Not growing.
    assert verdict_of(two(), accuracies=[(0.95, 0.7)]).verdict == Verdict.HEALTHY  # One epoch is no trend.


@pytest.mark.parametrize(("verdict", "records", "config", "changes"), [
    (Verdict.STUCK, {"probes": two(loss=LN10, spread=1e-6)}, PRESETS["blog"], {"batch_norm": True}),
    (Verdict.STUCK, {"probes": two(loss=LN10, spread=1e-6, update=1e-5), "losses": (2.3, 2.3)}, PRESETS["cpu"],
     {"learning_rate": 1.0}),
    (Verdict.DIVERGED, {"probes": two(), "losses": (2.3, 1e4)}, PRESETS["cpu"],
     {"learning_rate": 0.01, "warmup_epochs": 1.0}),
    (Verdict.DIVERGED, {"probes": two(), "losses": (2.3, 1e4)}, PRESETS["blog"], {"learning_rate": 1e-4}),
    (Verdict.TOO_SLOW, {"probes": two(update=1e-6), "losses": (2.3, 2.3)}, PRESETS["cpu"], {"learning_rate": 1.0}),
    (Verdict.DEAD_RELUS, {"probes": two(dead={"block5": 0.9})}, PRESETS["blog"], {"batch_norm": True}),
    (Verdict.DEAD_RELUS, {"probes": two(dead={"block5": 0.9})}, PRESETS["cpu"],
     {"learning_rate": 0.01, "warmup_epochs": 1.0}),
    (Verdict.VANISHING, {"probes": two(relative_gradients={"block1": 1e-6})}, PRESETS["blog"], {"batch_norm": True}),
    (Verdict.OVERFITTING, {"probes": two(), "accuracies": [(0.5, 0.5), (1.0, 0.5)]}, PRESETS["blog"],
     {"augment": True}),
    (Verdict.OVERFITTING, {"probes": two(), "accuracies": [(0.5, 0.5), (1.0, 0.5)]}, PRESETS["cpu"],
     {"cutout_size": 12}),
])
def test_each_verdict_names_a_fix_as_settings_a_run_can_start_with(verdict, records, config, changes):
    diagnosis = verdict_of(records["probes"], records.get("losses", (2.4, 1.5, 1.2)), records.get("accuracies", ()),
                           config=config)
    assert diagnosis.verdict == verdict
    assert diagnosis.fix_changes.keys() == changes.keys()
    assert all(diagnosis.fix_changes[name] == pytest.approx(value) if isinstance(value, float)
               else diagnosis.fix_changes[name] == value for name, value in changes.items())
    assert_one_sentence(diagnosis.sentence) and assert_one_sentence(diagnosis.fix_sentence)
    fixed = diagnosis.fixed_config(config)
    assert validate(fixed) and all(getattr(fixed, name) == value for name, value in diagnosis.fix_changes.items())
    json.dumps(diagnosis.to_dict())  # What `doctor --json` prints.


# --- The record -------------------------------------------------------------------------------------------------


def test_rows_read_back_typed_incrementally_and_a_damaged_line_is_one_sentence(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="records")
    rows = [probe(20), NonFiniteRow(25, 0.25, "training loss", math.inf), probe(40), ProbeErrorRow(41, 0.41, "Gone.")]
    run.diagnostics_path.write_text("".join(row_line(row) for row in rows[:2]))
    first = read_diagnostics(run)
    assert first.probes == (rows[0],) and first.nonfinite == (rows[1],)
    with open(run.diagnostics_path, "a") as file:
        file.write(row_line(rows[2]) + row_line(rows[3])[:30])  # The last line is still being written.
    second = read_diagnostics(run)
    assert second.probes == (rows[0], rows[2]) and second.errors == ()
    with open(run.diagnostics_path, "a") as file:
        file.write(row_line(rows[3])[30:])
    assert read_diagnostics(run).errors == (rows[3],)
    for damage in ("[]\n", "7\n", '{"kind": "probe", "step": 3}\n', '{"kind": "probe", "units": 5}\n'):
        with open(run.diagnostics_path, "a") as file:
            file.write(damage)
        with pytest.raises(DamagedRunError) as caught:
            diagnose(run)
        assert_one_sentence(str(caught.value))
        assert "diagnostics.jsonl" in str(caught.value)
        # A resume keeps the good rows up to its checkpoint and drops the damage, so training goes on.
        truncate_diagnostics(run, epochs_done=1)
        assert read_diagnostics(run).probes == (rows[0], rows[2])


def test_a_resume_keeps_the_probes_up_to_its_checkpoint(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="resumed")
    run.diagnostics_path.write_text("".join(row_line(probe(step)) for step in (50, 100, 150)))
    truncate_diagnostics(run, epochs_done=1)  # probe(step).epoch is step / 100.
    assert [row.step for row in read_diagnostics(run).probes] == [50, 100]


def test_heatmap_is_units_by_probes():
    diagnostics = Diagnostics((probe(20, dead={"block5": 0.6}), probe(40, dead={"block5": 0.7})))
    dead = heatmap(diagnostics, "dead_fraction")
    assert dead.units == UNITS and dead.steps == (20, 40)
    assert dead.values[UNITS.index("block5")] == (0.6, 0.7) and dead.values[-1] == (None, None)
    assert heatmap(diagnostics, "gradient_norm").values[0] == pytest.approx((0.5, 0.5))
    with pytest.raises(ValueError):
        heatmap(diagnostics, "loss")


def test_probes_every_40_steps_on_the_cpu_preset_and_at_least_four_times_in_a_short_epoch():
    assert probe_interval(45000 // 256, 256) == 40
    assert probe_interval(45000 // 32, 32) == 313  # The blog: its batches are 8 times smaller.
    assert probe_interval(15, 32) == 3


# --- Real runs on generated images ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def healthy_run(image_folder, tmp_path_factory):
    run = create_run(tmp_path_factory.mktemp("runs"), tiny_config(epochs=3), name="batch-norm",
                     data_dir=str(image_folder))
    status = train_run_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    return run


def test_a_batch_norm_run_is_healthy(healthy_run):
    diagnosis = diagnose(healthy_run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.HEALTHY, diagnosis.sentence
    assert_one_sentence(diagnosis.sentence)


def test_a_run_records_its_probes_as_defined(healthy_run):
    diagnostics = read_diagnostics(healthy_run)
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


def test_the_doctor_command_prints_the_verdict_its_evidence_and_the_fix(healthy_run, capsys):
    runs_dir = str(healthy_run.path.parent)
    assert main(["doctor", healthy_run.name, "--runs-dir", runs_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "healthy"
    # A diverged copy of the run: the verdict, its numbers, and the command that starts the fix.
    copy = create_run(runs_dir, healthy_run.config(), name="copy", preset="cpu", data_dir="data")
    copy.diagnostics_path.write_bytes(healthy_run.diagnostics_path.read_bytes())
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
    assert train_run_quietly(run, image_folder).state == "finished"
    diagnosis = diagnose(run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.STUCK, diagnosis.sentence
    dead = diagnosis.evidence["dead_units"]
    assert "block5" in dead and set(dead) <= {"block4", "block5", "fc1", "fc2"}  # Blocks 1-3 live.
    assert diagnosis.fix_changes == {"batch_norm": True}
    # Live, the doctor said so before the epoch ended: already from its second probe.
    diagnostics, metrics = read_diagnostics(run), run.metrics()
    live = [diagnose_records(config, Diagnostics(diagnostics.probes[:count]), metrics).verdict
            for count in range(1, len(diagnostics.probes) + 1)]
    assert live[0] == Verdict.WAITING and set(live[1:]) == {Verdict.STUCK}
    assert diagnostics.probes[1].epoch < 1


def test_a_learning_rate_of_5_diverges(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=1, learning_rate=5.0), name="five")
    assert train_run_quietly(run, image_folder).state == "finished"
    diagnosis = diagnose(run)
    print(diagnosis.sentence)
    assert diagnosis.verdict == Verdict.DIVERGED, diagnosis.sentence
    assert diagnosis.fix_changes["learning_rate"] == 0.5


def test_a_tiny_learning_rate_learns_too_slowly(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=2, learning_rate=1e-5), name="slow")
    assert train_run_quietly(run, image_folder).state == "finished"
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


@pytest.mark.slow
def test_three_images_a_class_for_fifteen_epochs_overfit(tmp_path):
    folder = write_hard_image_folder(tmp_path / "data")
    config = tiny_config(train_subset=30, batch_size=10, epochs=15, learning_rate=0.02, warmup_epochs=1.0)
    run = create_run(tmp_path / "runs", config, name="memorize")
    assert train_run_quietly(run, folder).state == "finished"
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
    status = train_run_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    diagnostics = read_diagnostics(run)
    assert len(calls) == 1 and diagnostics.probes == () and len(diagnostics.errors) == 1
    assert "no probe today" in diagnostics.errors[0].error and diagnostics.errors[0].step == 3
    assert run.metrics().epochs[-1].step == 15
    assert diagnose(run).verdict == Verdict.WAITING and "probes stopped" in diagnose(run).sentence


def test_the_bench_measures_the_probes_cost(tmp_path):
    from benchmarks.probe_cost import probe_cost

    images, labels = generated_images(per_class=10)
    cost = probe_cost(tiny_config(), images, labels, images[:50], labels[:50], tmp_path, rounds=1, steps=2,
                      warmup_steps=2)
    assert all(cost[name] > 0 for name in ("wall_without", "wall_with", "cpu_without", "cpu_with"))
    assert 0 < cost["probe_share"] < 1
