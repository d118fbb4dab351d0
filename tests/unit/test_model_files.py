"""What is computed once per model file keys on the file as it is now (review F3): a new checkpoint is hashed once
however many sessions open it, and a checkpoint still training is not analysed at all."""

import hashlib
import os
import threading

from helpers import tiny_config
from vgg.runs.folder import create_run
from vgg.runs.record import still_training
from vgg.runs.status import State


def test_a_new_model_file_is_hashed_once_however_many_sessions_open_it(tmp_path, monkeypatch):
    from vgg.explain import cache

    model = tmp_path / "checkpoint.keras"
    model.write_bytes(os.urandom(64 * 2**20))
    hashed = []
    sha256 = hashlib.sha256

    def watched_sha256(*data):
        hashed.append(1)
        return sha256(*data)

    monkeypatch.setattr(cache.hashlib, "sha256", watched_sha256)
    start = threading.Barrier(8)
    digests = []

    def session():
        start.wait()
        digests.append(cache.file_sha256(model))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(digests)) == 1 and len(digests) == 8
    assert len(hashed) == 1
    model.write_bytes(os.urandom(2**20))  # The next epoch's checkpoint: hashed anew.
    assert cache.file_sha256(model) != digests[0] and len(hashed) == 2


def test_a_checkpoint_still_training_is_not_analysed(tmp_path):
    run = create_run(tmp_path, tiny_config(), name="training")
    run.checkpoint_path.write_bytes(b"a checkpoint")
    run.update_status(state=State.QUEUED)
    assert still_training(run.checkpoint_path)
    run.update_status(state=State.STOPPED)
    assert not still_training(run.checkpoint_path)
    assert not still_training(run.model_path)


def test_the_server_keeps_as_many_models_as_a_quarter_of_its_memory_holds():
    from vgg.core.estimate import models_kept

    assert models_kept(8 * 2**30) == 6  # A school laptop: six blog-preset models of 300 MB in 2 GB.
    assert models_kept(24 * 2**30) == 20
    assert models_kept(2**30) == 2  # Always two, so that Predict can compare two models.
