"""The Ray actor that trains one run on a cluster machine, in a scratch copy of its run folder.

The head sends the run's folder (vgg/cluster/sync.py) and its images (a Dataset through Ray's object store, fetched
once per machine however many runs train there); the actor trains with the ordinary trainer in a thread and
answers the head's relay (vgg/cluster/relay.py) with what changed, so the worker needs no data and no shared disk.
"""

import contextlib
import os
import pathlib
import shutil
import tempfile
import threading

import ray

from vgg.cluster import sync
from vgg.runs.folder import Run

# A run trains below the priority of whatever else the machine does: a lab machine's own user, the head's server.
TRAINING_NICENESS = 10


class RunTrainer:
    def __init__(self, run_name, files, dataset):
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="vgg-cluster-"))
        self.run = Run(self.scratch / "runs" / run_name)
        sync.apply(self.run.path, files)
        self.arrived = sync.changes(self.run.path, {})[1]  # What the head has already, not to be sent back.
        self.dataset = dataset
        self.outcome = None  # The run's final state once its training thread ends.
        self.thread = threading.Thread(target=self._train, name=f"vgg-train-{run_name}", daemon=True)

    def start(self):
        self.thread.start()

    def known(self):
        return self.arrived

    def _train(self):
        from vgg.training.trainer import train_run

        with contextlib.suppress(OSError):
            os.nice(TRAINING_NICENESS)  # This thread and the threads TensorFlow starts from it.
        try:
            status = train_run(self.run, progress=self._log, dataset=self.dataset)
            self.outcome = str(status.state)
        except BaseException as error:  # The head records a failure that the trainer itself could not.
            self.outcome = f"failed: {type(error).__name__}: {error}"

    def _log(self, message):
        with open(self.run.log_path, "a") as log:
            log.write(message + "\n")

    def changes(self, known):
        """(outcome, changes, known): the outcome is read first, so once it is set the changes are complete."""
        outcome = self.outcome
        return (outcome, *sync.changes(self.run.path, known))

    def stop(self):
        self.run.stop_path.touch()  # The trainer's StopRequest sees it at the end of its batch.

    def close(self):
        shutil.rmtree(self.scratch, ignore_errors=True)


RemoteRunTrainer = ray.remote(RunTrainer)
