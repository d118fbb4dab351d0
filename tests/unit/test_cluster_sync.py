"""A run folder streamed from a worker to the head (vgg/cluster/sync.py), on real files: appended rows travel as
rows, complete lines only; a rewritten file travels whole; locks and the stop request stay where they are."""

import os

from vgg.cluster import sync


def send(worker, head, known):
    found, known = sync.changes(worker, known)
    sync.apply(head, found)
    return found, known


def test_rows_travel_as_complete_lines_and_a_rewrite_travels_whole(tmp_path):
    worker, head = tmp_path / "worker", tmp_path / "head"
    (worker / "snapshots").mkdir(parents=True)
    (worker / "metrics.jsonl").write_bytes(b'{"epoch": 1}\n{"epo')
    (worker / "snapshots" / "epoch-1.keras").write_bytes(b"weights")
    (worker / ".training.lock").touch()
    (worker / "stop-requested").touch()
    _, known = send(worker, head, {})
    assert (head / "metrics.jsonl").read_bytes() == b'{"epoch": 1}\n'  # The half-written row waits.
    assert (head / "snapshots" / "epoch-1.keras").read_bytes() == b"weights"
    assert not (head / ".training.lock").exists() and not (head / "stop-requested").exists()
    with open(worker / "metrics.jsonl", "ab") as rows:
        rows.write(b'ch": 2}\n')
    found, known = send(worker, head, known)
    assert found == [("metrics.jsonl", len(b'{"epoch": 1}\n'), b'{"epoch": 2}\n')]
    assert (head / "metrics.jsonl").read_bytes() == b'{"epoch": 1}\n{"epoch": 2}\n'
    assert send(worker, head, known)[0] == []  # Nothing changed, nothing travels.
    # A resume cuts the rows past its checkpoint by writing a new file, which may grow past the old size at once.
    (worker / "new.jsonl").write_bytes(b'{"epoch": 1}\n{"epoch": 9}\n{"epoch": 9}\n')
    os.replace(worker / "new.jsonl", worker / "metrics.jsonl")
    send(worker, head, known)
    assert (head / "metrics.jsonl").read_bytes() == b'{"epoch": 1}\n{"epoch": 9}\n{"epoch": 9}\n'


def test_a_relay_that_takes_over_appends_after_what_the_head_has_and_leaves_its_unchanged_files_alone(tmp_path):
    worker, head = tmp_path / "worker", tmp_path / "head"
    worker.mkdir()
    head.mkdir()
    (worker / "metrics.jsonl").write_bytes(b"1\n2\n3\n")
    (head / "metrics.jsonl").write_bytes(b"1\n2\n")  # What reached the head before its server restarted.
    for side in (worker, head):
        (side / "config.json").write_bytes(b'{"epochs": 3}')
    settings = (head / "config.json").stat()
    send(worker, head, sync.head_known(head))
    assert (head / "metrics.jsonl").read_bytes() == b"1\n2\n3\n"  # No row lost, none twice.
    # Not written again: the lists, newest run first by when its settings were written, keep their order.
    now = (head / "config.json").stat()
    assert (now.st_ino, now.st_mtime_ns) == (settings.st_ino, settings.st_mtime_ns)


def test_a_checkpoint_record_is_applied_after_the_checkpoint_it_describes(tmp_path):
    worker = tmp_path / "worker"
    worker.mkdir()
    for name in ("checkpoint.json", "status.json", "checkpoint.keras", "metrics.jsonl"):
        (worker / name).write_text("x\n")
    found, _ = sync.changes(worker, {})
    names = [relative for relative, _, _ in found]
    assert set(names[-2:]) == {"checkpoint.json", "status.json"}
