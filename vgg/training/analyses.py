"""A finished run's last phase, `analysing`: its training process computes what the pages would compute on the
first view of its final model (vgg/explain/ready.py), so Mistakes and Inside VGG16 open at once. The run is finished
for its users before it begins, its score shown; a stop or a failure meanwhile leaves it so, its model kept.

On a cluster (vgg/cluster/worker.py) the files are written in the worker's copy of the run folder and reach the head
with the run's other files; the head shows the run in this phase until they have arrived.
"""

import os

from vgg.core.phases import ANALYSING
from vgg.data import cifar10 as data_module
from vgg.explain import evaluation as evaluations
from vgg.explain import ready
from vgg.runs.record import ModelRecord


def prepare_analyses(run, model, data, scored, reporter, stop_request):
    """Computes and saves what the pages would compute on the first view of the run's final model
    (vgg/explain/ready.py), within its budget, as the phase `analysing`. A stop or a failure leaves the run
    finished and its model kept: its pages then compute what is missing on first view."""
    if os.environ.get(ready.RUN_VARIABLE) == "0":
        return
    try:
        dataset = pages_dataset(run, data)
        record = ModelRecord.of(run.model_path)
        split = evaluations.split_for(run.model_path)
        # The final score's answers are the Mistakes page's when its images are the training's very copy.
        scored = scored if dataset is data.dataset else None
        found = ready.steps(run.model_path, model, dataset, split, record.flip_average, record.class_names, scored)
    except Exception as error:  # noqa: BLE001  (the run is finished; its pages compute their analyses themselves)
        reporter.progress(f"Its analyses are left to the pages ({type(error).__name__}: {error}).")
        return
    reporter.clock.switch(ANALYSING, len(found))

    def on_step(done, total, what):
        reporter.update(phase_done=done, phase_total=total)
        if what:
            reporter.progress(f"Preparing {what} for the pages ({done + 1} of {total})…")

    try:
        # The class's time limit is of training: only a Stop (its file or SIGTERM) ends the analyses.
        outcome = ready.prepare(found, on_step, lambda: stop_request.signalled or run.stop_path.exists())
    except KeyboardInterrupt:
        reporter.progress("Interrupted while preparing its analyses; the pages compute them on first view.")
        return
    for problem in outcome.problems:
        reporter.progress(problem)
    if outcome.left:
        reporter.progress(f"{outcome.left} of its analyses are left to the pages, which compute them on first view.")


def pages_dataset(run, data):
    """The images the pages open the run's model with: the server's folder (VGG_DATA_DIR, inherited from the server
    that started the run), else the run's own, on the run's split; the training's copy when it is the same one."""
    trained_on = run.recorded_status().data_dir
    wanted = data_module.default_data_dir() or trained_on
    if data.from_head or wanted == trained_on:
        return data.dataset  # A cluster worker's images are the head's, which the head's pages load.
    return data_module.load_cifar10(wanted, *evaluations.split_for(run.model_path))
