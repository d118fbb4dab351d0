"""Runs that change under a reader's feet (review F7, F8, F9, F15) and model files that are not what their name says
(F16, F18). Each race is widened by calling its two halves in the bad order, never by waiting."""

import os
import shutil
import time
import zipfile

import pytest

from helpers import assert_one_sentence, dead_pid, tiny_config
from vgg import cli
from vgg.classroom import policy
from vgg.core import locks
from vgg.core.errors import UserError
from vgg.explain.predictor import ModelError, trusted_model_path
from vgg.runs import archive, disk, folder, queue
from vgg.runs.folder import RunError, create_run, list_runs
from vgg.runs.queue import enqueue, start_due_runs
from vgg.runs.status import State
from vgg.training.trainer import holding_run


def aged_runs(runs_dir, names):
    """Runs named `names`, oldest first."""
    runs = []
    for age, name in enumerate(reversed(names)):
        run = create_run(runs_dir, tiny_config(), name=name)
        stamp = time.time() - 60 * (age + 1)
        os.utime(run.config_path, (stamp, stamp))
        runs.append(run)
    return runs[::-1]


def test_a_cancel_between_the_queue_read_and_the_start_wins(tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    run = create_run(runs_dir, tiny_config(), name="late")
    enqueue(run)
    read = queue.queued_runs

    def read_then_cancel(path):
        found = read(path)
        run.request_stop()  # The student's Cancel lands after the scheduler read the queue, before it starts.
        return found

    monkeypatch.setattr(queue, "queued_runs", read_then_cancel)
    started = start_due_runs(runs_dir)
    for process in filter(None, started.values()):
        process.kill()
        process.wait()
    assert started.get("late") is None
    assert run.status().state == State.STOPPED and "queue" in run.status().error


@pytest.mark.parametrize("lister", [list_runs, disk.all_runs])
def test_listing_leaves_out_a_run_deleted_while_it_lists(tmp_path, monkeypatch, lister):
    runs_dir = tmp_path / "runs"
    aged_runs(runs_dir, ["a", "b", "c"])
    found = folder.run_folders

    def found_then_deleted(parent):
        folders = found(parent)
        shutil.rmtree(runs_dir / "b", ignore_errors=True)  # The teacher's Delete, between the listing and the sort.
        return folders

    monkeypatch.setattr(folder, "run_folders", found_then_deleted)
    monkeypatch.setattr(disk, "run_folders", found_then_deleted)
    names = [run.name for run in lister(runs_dir)]
    assert sorted(names) == ["a", "c"]


def test_archive_restore_and_delete_hold_the_launch_lock(tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    first, second = aged_runs(runs_dir, ["first", "second"])
    held = []

    def spy(function):
        def wrapped(*arguments):
            held.append(locks.is_held(runs_dir / locks.LAUNCH_LOCK))
            return function(*arguments)

        return wrapped

    monkeypatch.setattr(archive, "list_runs", spy(archive.list_runs))
    name, moved, _ = archive.archive_runs(runs_dir)
    assert sorted(moved) == ["first", "second"] and held == [True]

    monkeypatch.setattr(archive, "run_folders", spy(archive.run_folders))
    assert sorted(archive.restore(runs_dir, name)) == ["first", "second"]
    assert held[-1] is True

    monkeypatch.setattr(policy.shutil, "rmtree", spy(shutil.rmtree))
    policy.delete_run(first, teacher=True)
    assert held[-1] is True and not first.path.exists()


def test_a_status_write_to_a_deleted_or_archived_run_leaves_no_ghost_folder(tmp_path):
    runs_dir = tmp_path / "runs"
    deleted, archived = aged_runs(runs_dir, ["deleted", "archived"])
    shutil.rmtree(deleted.path)
    archive.archive_runs(runs_dir)
    for run in (deleted, archived):
        with pytest.raises(RunError, match="no longer exists") as refused:
            run.update_status(pinned=True)
        assert_one_sentence(str(refused.value))
        with pytest.raises(FileNotFoundError):
            locks.acquire(run.lock_path)
        assert not run.path.exists()
    assert list_runs(runs_dir) == [] and sorted(os.listdir(runs_dir)) == [".archive", ".launch.lock"]


def test_delete_refuses_a_queued_run_and_says_why_a_folder_cannot_go(tmp_path):
    runs_dir = tmp_path / "runs"
    queued, linked = aged_runs(runs_dir, ["queued", "linked"])
    enqueue(queued)
    with pytest.raises(UserError, match="queued or training") as refused:
        policy.delete_run(queued, teacher=True)
    assert_one_sentence(str(refused.value))
    assert queued.status().state == State.QUEUED

    # A run folder that is a link (moved to another disk by hand): rmtree refuses it with an OSError.
    moved = tmp_path / "elsewhere"
    linked.path.rename(moved)
    linked.path.symlink_to(moved, target_is_directory=True)
    with pytest.raises(UserError, match="could not be deleted") as failed:
        policy.delete_run(linked, teacher=True)
    assert_one_sentence(str(failed.value))


def test_a_trainer_taking_its_run_removes_temporaries_of_a_killed_save(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="resumed")
    orphan = run.path / f".checkpoint.{dead_pid()}-7.tmp.keras"
    orphan.write_bytes(b"\0" * 1000)
    with holding_run(run):
        assert not orphan.exists()


def zipped(path):
    with zipfile.ZipFile(path, "w") as archive_file:
        archive_file.writestr("config.json", "{}")
    return path


def test_a_keras_name_must_be_a_keras_file_itself(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="r")
    plain = run.path / "plain.h5"
    plain.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(1000))
    run.model_path.symlink_to(plain)  # Keras would pick its HDF5 loader by the target's suffix.
    (run.path / "fake.keras").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(1000))
    for path, phrase in [(run.model_path, "Only .keras model files"), (run.path / "fake.keras", "zip archive")]:
        with pytest.raises(ModelError, match=phrase) as refused:
            trusted_model_path(path, tmp_path / "runs")
        assert_one_sentence(str(refused.value))
    assert trusted_model_path(zipped(run.path / "real.keras"), tmp_path / "runs") == run.path / "real.keras"


def test_the_cli_trusts_no_model_file_for_being_inside_the_runs_dir_it_was_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "runs"))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    zipped(downloads / "model.keras")
    assert cli.main(["describe", "--runs-dir", str(downloads), "--model", str(downloads / "model.keras")]) == 2
    assert "outside the runs folder" in capsys.readouterr().err
    # A run of that folder, named by --run, is still opened: the project chose the file in its run folder.
    run = create_run(downloads, tiny_config(), name="theirs")
    zipped(run.model_path)
    assert cli.main(["describe", "--runs-dir", str(downloads), "--run", "theirs"]) == 2
    error = capsys.readouterr().err
    assert "outside" not in error and "not a readable Keras model" in error
