"""Run files read back as typed records: a file of the wrong JSON type damages one run, never the page
or the other runs; a run is alive only while its training process holds its lock."""

import dataclasses
import json
import pathlib

import pytest

from helpers import tiny_config, two_runs
from vgg.classroom.launch import active_run
from vgg.core.errors import UserError
from vgg.core.files import WriteError, read_json, replacing, write_json
from vgg.runs.folder import create_run, list_runs, open_run
from vgg.runs.metrics import BatchRow, EpochRow, Metrics, downsample, kept_after_resume, progress
from vgg.runs.record import ModelRecord
from vgg.runs.status import RunStatus, State

WRONG_TYPES = [None, [], 7, "running"]


@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
@pytest.mark.parametrize("file_name", ["status.json", "checkpoint.json", "metrics.jsonl"])
def test_a_run_file_of_the_wrong_json_type_damages_only_that_run(tmp_path, file_name, value):
    kept, damaged = two_runs(tmp_path)
    (damaged.path / file_name).write_text(json.dumps(value) + ("\n" if file_name.endswith("jsonl") else ""))

    summaries = {summary.name: summary for summary in (run.summary() for run in list_runs(tmp_path))}
    assert summaries["damaged"].state == State.DAMAGED
    problem = summaries["damaged"].problem
    assert "'damaged' is damaged" in problem and file_name in problem and "\n" not in problem, problem
    # The other run and the listing functions keep working.
    assert summaries["kept"].state == State.FINISHED and summaries["kept"].val_accuracy == 0.4
    assert active_run(tmp_path) is None


def test_a_status_field_of_the_wrong_type_is_named(tmp_path):
    run = create_run(tmp_path, tiny_config(), name="odd")
    write_json(run.status_path, {"state": "finished", "final_accuracy": "high"})
    with pytest.raises(UserError, match="final_accuracy"):
        run.status()
    write_json(run.status_path, {"state": "sleeping"})
    assert run.summary().state == State.DAMAGED and "'sleeping'" in run.summary().problem


def test_the_atomic_writer_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "record.json"
    write_json(path, {"version": 1})
    with pytest.raises(ZeroDivisionError), replacing(path) as temporary:
        temporary.write_text("half")
        raise ZeroDivisionError
    assert read_json(path) == {"version": 1}
    assert [item.name for item in tmp_path.iterdir()] == ["record.json"], "the temporary file was left behind"
    with pytest.raises(WriteError, match="what was saved before is kept"):
        write_json(tmp_path / "missing-folder" / "record.json", {})


def batch(epoch, step, elapsed=1.0):
    return BatchRow(
        step=step, epoch=epoch, loss=1.0, accuracy=0.5, learning_rate=0.1, images_per_second=100.0, elapsed=elapsed
    )


def test_a_resume_after_a_mid_epoch_stop_drops_the_partial_epoch():
    before = Metrics(
        batches=(batch(0.5, 5), batch(1.0, 10), batch(1.4, 14)),
        epochs=(EpochRow(10, 1, 1.0, 0.5, 1.0, 0.5, 0.1, 100.0, 2.0),),
    )
    kept = kept_after_resume(before, epochs_done=1)
    assert [row.epoch for row in kept] == [0.5, 1.0, 1]
    # The redone epoch's rows then continue from epoch 1 onwards: the x values never fall.
    after = [row.epoch for row in kept] + [1.1, 1.5]
    assert after == sorted(after)


def test_time_left_comes_from_the_average_pace_not_the_last_interval():
    slow_last = Metrics(
        batches=(batch(1.0, 10, elapsed=60.0), BatchRow(12, 1.2, 1.0, 0.5, 0.1, images_per_second=5.0, elapsed=72.0))
    )
    now = progress(slow_last, epochs=3)
    assert now.seconds_left == pytest.approx((3 - 1.2) * 72.0 / 1.2)


def test_a_downsampled_series_keeps_its_first_last_lowest_and_highest_points():
    xs = list(range(13_680))
    ys = [((index * 7919) % 1000) / 1000 for index in xs]
    ys[5000], ys[9000] = -3.0, 9.0
    small_x, small_y = downsample(xs, ys, 1000)
    assert len(small_x) <= 1000
    assert (small_x[0], small_x[-1]) == (0, 13_679)
    assert min(small_y) == -3.0 and max(small_y) == 9.0
    assert small_x == sorted(small_x)
    assert downsample(xs[:10], ys[:10], 1000) == (xs[:10], ys[:10])


def test_status_records_round_trip_and_ignore_unknown_fields():
    status = RunStatus.from_dict({"state": "finished", "final_accuracy": 0.9, "added_later": True}, "r")
    assert status.state == State.FINISHED and status.final_accuracy == 0.9
    assert RunStatus.from_dict(status.to_dict(), "r") == status
    with pytest.raises(TypeError):
        status.changed(colour="blue")


def test_open_run_of_an_unknown_name_is_one_sentence(tmp_path):
    with pytest.raises(UserError, match="No run named"):
        open_run(tmp_path, "nothing")


def test_a_models_summary_counts_one_epoch_in_the_singular():
    record = ModelRecord(pathlib.Path("model.keras"), "run", tiny_config(), epochs=1, val_accuracy=0.104)
    assert record.summary() == "VGG16 at width 0.125, trained 1 epoch: 10.4% of validation images right."
    three = dataclasses.replace(record, epochs=3, planned_epochs=5)
    assert "trained 3 of 5 epochs:" in three.summary()
