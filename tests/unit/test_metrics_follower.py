"""The metrics follower reads a growing file incrementally and starts again on a replaced one."""

import os

from helpers import tiny_config
from vgg.runs.folder import create_run
from vgg.runs.metrics import BatchRow, row_line


def batch_line(step, epoch, loss=1.0):
    return row_line(
        BatchRow(
            step=step,
            epoch=epoch,
            loss=loss,
            accuracy=0.5,
            learning_rate=0.1,
            images_per_second=100.0,
            elapsed=float(step),
        )
    )


def test_metrics_follow_a_growing_file_and_a_replaced_one(tmp_path):
    """The live chart's reader: appended lines appear, a half-written line waits, a rewrite starts over."""
    run = create_run(tmp_path, tiny_config(), name="growing")
    with open(run.metrics_path, "a") as file:
        file.write(batch_line(1, 0.5))
    assert [row.step for row in run.metrics().rows()] == [1]
    with open(run.metrics_path, "a") as file:
        file.write(batch_line(2, 1.0) + batch_line(3, 1.5)[:20])
    assert [row.step for row in run.metrics().rows()] == [1, 2]
    with open(run.metrics_path, "a") as file:
        file.write(batch_line(3, 1.5)[20:])
    assert [row.step for row in run.metrics().rows()] == [1, 2, 3]
    run.truncate_metrics(epochs_done=1)
    assert [row.step for row in run.metrics().rows()] == [1, 2]
    # A different, longer file put in its place is read from its start, not from the old offset.
    replacement = run.path / "replacement.jsonl"
    replacement.write_text("".join(batch_line(step * 10, step / 2) for step in range(1, 9)))
    os.replace(replacement, run.metrics_path)
    assert [row.step for row in run.metrics().rows()] == [10, 20, 30, 40, 50, 60, 70, 80]
    run.truncate_metrics(epochs_done=1)
    with open(run.metrics_path, "a") as file:
        file.write(batch_line(25, 1.25, loss=0.5))
    assert run.metrics().batches[-1] == BatchRow(25, 1.25, 0.5, 0.5, 0.1, 100.0, 25.0)
