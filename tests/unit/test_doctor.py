"""The training doctor: the probes a run records (diagnostics.jsonl), the verdicts drawn from them, their
fixes, and `python -m vgg doctor`. Runs train for real on generated images; each rule also has a test on
hand-made records just either side of its threshold, so a broken rule fails one."""

import json
import math

import pytest

from helpers import assert_one_sentence, tiny_config
from vgg.classroom.doctor import Verdict, diagnose, diagnose_records
from vgg.core.config import PRESETS, validate
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
        UnitProbe(
            name,
            None if name == "predictions" else 0.5,
            None if name == "predictions" else 0.8,
            None if name == "predictions" else dead.get(name, 0.1),
            gradient_norm=relative_gradients.get(name, 0.05) * 10.0,
            weight_norm=10.0,
            update_ratio=update,
        )
        for name in UNITS
    )
    return ProbeRow(
        step=step,
        epoch=step / 100,
        learning_rate=0.1,
        loss=loss,
        accuracy=0.7,
        entropy=1.0,
        prediction_spread=spread,
        images=200,
        units=units,
        nonfinite=tuple(nonfinite),
    )


def batches(*losses):
    return tuple(
        BatchRow(
            step=10 * (index + 1),
            epoch=(index + 1) / 10,
            loss=loss,
            accuracy=0.5,
            learning_rate=0.1,
            images_per_second=100.0,
            elapsed=float(index),
        )
        for index, loss in enumerate(losses)
    )


def epochs(*accuracies):
    return tuple(
        EpochRow(
            step=100 * epoch,
            epoch=epoch,
            loss=1.0,
            accuracy=accuracy,
            val_loss=1.0,
            val_accuracy=val_accuracy,
            learning_rate=0.1,
            images_per_second=100.0,
            elapsed=float(epoch),
        )
        for epoch, (accuracy, val_accuracy) in enumerate(accuracies, start=1)
    )


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
    assert "block 5" in stuck.sentence and "dense layer 1" in stuck.sentence and "fc1" not in stuck.sentence
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


@pytest.mark.parametrize(
    ("verdict", "records", "config", "changes"),
    [
        (
            Verdict.STUCK,
            {"probes": two(loss=LN10, spread=1e-6)},
            PRESETS["blog"],
            {"batch_norm": True, "learning_rate": 1e-4},
        ),
        (
            Verdict.STUCK,
            {"probes": two(loss=LN10, spread=1e-6)},
            PRESETS["blog"].replace(head="small"),
            {"batch_norm": True},
        ),
        (
            Verdict.STUCK,
            {"probes": two(loss=LN10, spread=1e-6, update=1e-5), "losses": (2.3, 2.3)},
            PRESETS["cpu"],
            {"learning_rate": 1.0},
        ),
        (
            Verdict.DIVERGED,
            {"probes": two(), "losses": (2.3, 1e4)},
            PRESETS["cpu"],
            {"learning_rate": 0.01, "warmup_epochs": 1.0},
        ),
        (Verdict.DIVERGED, {"probes": two(), "losses": (2.3, 1e4)}, PRESETS["blog"], {"learning_rate": 1e-4}),
        (Verdict.TOO_SLOW, {"probes": two(update=1e-6), "losses": (2.3, 2.3)}, PRESETS["cpu"], {"learning_rate": 1.0}),
        (
            Verdict.DEAD_RELUS,
            {"probes": two(dead={"block5": 0.9})},
            PRESETS["blog"],
            {"batch_norm": True, "learning_rate": 1e-4},
        ),
        (
            Verdict.DEAD_RELUS,
            {"probes": two(dead={"block5": 0.9})},
            PRESETS["cpu"],
            {"learning_rate": 0.01, "warmup_epochs": 1.0},
        ),
        (
            Verdict.VANISHING,
            {"probes": two(relative_gradients={"block1": 1e-6})},
            PRESETS["blog"],
            {"batch_norm": True, "learning_rate": 1e-4},
        ),
        (
            Verdict.OVERFITTING,
            {"probes": two(), "accuracies": [(0.5, 0.5), (1.0, 0.5)]},
            PRESETS["blog"],
            {"augment": True},
        ),
        (
            Verdict.OVERFITTING,
            {"probes": two(), "accuracies": [(0.5, 0.5), (1.0, 0.5)]},
            PRESETS["cpu"],
            {"cutout_size": 12},
        ),
    ],
)
def test_each_verdict_names_a_fix_as_settings_a_run_can_start_with(verdict, records, config, changes):
    diagnosis = verdict_of(
        records["probes"], records.get("losses", (2.4, 1.5, 1.2)), records.get("accuracies", ()), config=config
    )
    assert diagnosis.verdict == verdict
    assert diagnosis.fix_changes.keys() == changes.keys()
    assert all(
        diagnosis.fix_changes[name] == pytest.approx(value)
        if isinstance(value, float)
        else diagnosis.fix_changes[name] == value
        for name, value in changes.items()
    )
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
