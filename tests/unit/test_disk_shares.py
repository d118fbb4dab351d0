"""Fair shares of the disk (issue #34 part 4, review F6 and F15): one student's stopped runs cannot fill the class's
budget, and temporaries a killed writer left behind do not count against it."""

import os
import time

import numpy as np
import pytest

from helpers import assert_one_sentence, dead_pid, tiny_config
from vgg.classroom.launch import launch
from vgg.classroom.policy import ClassLimits
from vgg.core.files import write_bytes
from vgg.explain.cache import cache_key, save_arrays
from vgg.runs.disk import DiskBudgetError, bytes_needed, folder_bytes, make_room
from vgg.runs.folder import CheckpointState
from vgg.runs.queue import enqueue
from vgg.runs.status import State

MB = 10**6
ROOMY = ClassLimits(runs_per_student=20, disk_budget_gb=100.0, class_size=1)


def stopped_student_run(runs_dir, name, owner, age_hours, checkpoint_bytes):
    """A student's run cancelled in the queue, holding a checkpoint of `checkpoint_bytes` and an analysis of it,
    written as the trainer and the Mistakes page write them."""
    run, process = launch(runs_dir, name, config=tiny_config(), owner=owner, limits=ROOMY, student=True)
    assert process is None  # The test holds the slot: nothing trains.
    run.request_stop()
    write_bytes(run.checkpoint_path, np.random.default_rng(0).bytes(checkpoint_bytes))
    run.save_checkpoint_state(CheckpointState(epochs_done=1, step=10, elapsed=5.0))
    key = cache_key(run.checkpoint_path, "evaluation", "validation-split")
    save_arrays(key, "evaluation", {"probabilities": np.zeros((100, 10), np.float32)}, {}, "an evaluation")
    stamp = time.time() - age_hours * 3600
    os.utime(run.config_path, (stamp, stamp))
    return run


def checkpoint_kept(run):
    analysed = any(run.path.glob("checkpoint.*.npz"))
    return run.checkpoint_path.exists() and run.checkpoint_state_path.exists() and analysed


def test_another_students_start_prunes_the_oldest_stopped_runs_never_a_pinned_or_queued_one(busy_slot):
    size = 4 * MB
    pinned = stopped_student_run(busy_slot, "ada-pinned", "Ada", 9, size)
    pinned.update_status(pinned=True)
    queued = stopped_student_run(busy_slot, "ada-queued", "Ada", 8, size)
    enqueue(queued, resume=True)
    oldest, older, newest = (stopped_student_run(busy_slot, f"ada-{n}", "Ada", 7 - n, size) for n in range(3))
    assert all(checkpoint_kept(run) for run in (pinned, queued, oldest, older, newest))

    # Ada's runs fill the budget: Ben's start needs two checkpoints' worth of room.
    needed = bytes_needed(tiny_config())
    budget = folder_bytes(busy_slot) + needed - size * 1.5
    limits = ClassLimits(runs_per_student=20, disk_budget_gb=budget / 1e9, class_size=2)
    bens, _ = launch(busy_slot, "ben", config=tiny_config(), owner="Ben", limits=limits, student=True)

    assert bens.status().state == State.QUEUED
    assert not checkpoint_kept(oldest) and not oldest.checkpoint_path.exists() and not older.checkpoint_path.exists()
    assert not any(oldest.path.glob("checkpoint.*")), "its analyses and record go with the checkpoint"
    assert "starts it over" in oldest.status().error
    assert checkpoint_kept(newest) and checkpoint_kept(pinned) and checkpoint_kept(queued)
    assert queued.status().state == State.QUEUED and pinned.status().pinned
    assert folder_bytes(busy_slot) + needed <= budget


def test_a_student_past_their_share_prunes_their_own_runs_then_is_refused_naming_the_share(busy_slot):
    size = 4 * MB
    pinned = stopped_student_run(busy_slot, "ada-pinned", "Ada", 3, size)
    pinned.update_status(pinned=True)
    stopped = stopped_student_run(busy_slot, "ada-stopped", "Ada", 2, size)
    bens = stopped_student_run(busy_slot, "ben-stopped", "Ben", 4, size)
    # A budget with room for all, shared by 20: Ada's share is smaller than her pinned run alone.
    limits = ClassLimits(runs_per_student=20, disk_budget_gb=20 * 3 * MB / 1e9, class_size=20)

    with pytest.raises(DiskBudgetError, match=r"of your 3 MB share of the disk") as refused:
        launch(busy_slot, "ada-more", config=tiny_config(), owner="Ada", limits=limits, student=True)
    assert_one_sentence(str(refused.value))
    assert "over 20 students" in str(refused.value)
    assert not (busy_slot / "ada-more").exists()
    # Her own stopped run made what room it could; the pinned one and Ben's (the oldest of all) are untouched.
    assert not stopped.checkpoint_path.exists() and checkpoint_kept(pinned) and checkpoint_kept(bens)


def test_temporaries_of_a_killed_writer_are_removed_by_the_pruner_not_a_live_writers(busy_slot):
    run = stopped_student_run(busy_slot, "ada", "Ada", 1, MB)
    orphan = run.path / f".checkpoint.{dead_pid()}-140.tmp.keras"
    orphan.write_bytes(b"\0" * (3 * MB))  # Cut short by SIGKILL mid-save.
    writing = run.path / f".status.{os.getpid()}-1.tmp.json"  # This process is alive: a save under way.
    writing.write_text("{")
    used = folder_bytes(busy_slot)

    # The orphan's bytes are room: a start that needs them fits without pruning any checkpoint.
    assert make_room(busy_slot, 2 * MB, used - MB) == []
    assert not orphan.exists() and writing.exists() and checkpoint_kept(run)
