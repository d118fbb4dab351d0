"""A student's run stopped before its first epoch ends keeps no checkpoint (review F6): a few batches of training are
not worth a checkpoint as large as any on a class's shared disk. Anyone else's keeps one, to resume a long epoch."""

from helpers import tiny_config, train_quietly
from vgg.runs.folder import create_run
from vgg.runs.queue import enqueue
from vgg.runs.status import State


def test_a_students_run_stopped_in_its_first_epoch_keeps_no_checkpoint(tmp_path, image_folder):
    # Anyone else's run stopped so keeps its checkpoint: tests/training/test_training.py's lifecycle test.
    run = create_run(tmp_path / "runs", tiny_config(epochs=2, batch_size=8), name="early", owner="Ada")
    run.update_status(student=True)
    enqueue(run, time_limit_minutes=1e-4)  # Out of time after the first batch, 61 batches before the epoch ends.
    status = train_quietly(run, image_folder)
    assert status.state == State.STOPPED, status.traceback
    assert run.metrics().batches and not run.metrics().epochs
    assert not run.checkpoint_path.exists() and not run.checkpoint_state_path.exists()
