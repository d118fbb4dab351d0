"""Trains a run in this process: set up, prepare data, build or resume, fit, finish.

Every word the run says (status.json for the app, lines for the terminal) goes through one
`Reporter`; the callbacks that log, stop and checkpoint are in vgg/training/callbacks.py.
"""

import contextlib
import dataclasses
import os
import time
import traceback

import keras
import tensorflow as tf

from vgg.core import locks
from vgg.core.config import epoch_cap, validate
from vgg.core.files import remove_orphaned_temporaries, replacing
from vgg.core.phases import AVERAGING, SAVING, SCORING
from vgg.data import cifar10 as data_module
from vgg.explain import evaluation as evaluations
from vgg.explain.predictor import Predictor, load_model
from vgg.model.batch_norm import inference_config
from vgg.model.build import build_from_config
from vgg.model.device import device_summary, distribution_strategy, precision_policy, use_jit
from vgg.model.whitening import whiten_first_layer
from vgg.model.widen import transfer_weights
from vgg.runs.folder import CheckpointState, RunError
from vgg.runs.queue import holding_slot, start_due_runs
from vgg.runs.record import ModelRecord
from vgg.runs.status import DamagedRunError, State
from vgg.training.analyses import prepare_analyses
from vgg.training.averaging import WeightAverager
from vgg.training.callbacks import Checkpointer, RunLogger, StopOnRequest, StopRequest
from vgg.training.lookahead import Lookahead
from vgg.training.optimizer import compile_model
from vgg.training.phase_clock import PhaseClock, process_start_time
from vgg.training.probes import DiagnosticsRecorder
from vgg.training.snapshots import SnapshotSaver
from vgg.training.time_budget import TimeBudget

VALIDATION_BATCH = 500  # Images per validation batch: the validation pass's progress moves by this many.


class Reporter:
    """What a training run tells: its status (for the app and the CLI) and lines for the terminal."""

    def __init__(self, run, progress):
        self.run = run
        self.progress = progress
        self.clock = None  # The run's PhaseClock, once it holds a slot.

    def update(self, message=None, **changes):
        if message:
            self.progress(message)
        return self.run.update_status(**changes)

    def out_of_phases(self):
        """The status fields that end the run's phases, counting the last one."""
        return self.clock.closed() if self.clock else {"phase": None}

    def stopped(self, message, error=None):
        return self.update(message, state=State.STOPPED, pid=None, error=error, **self.out_of_phases())

    def failed(self, error):
        # One sentence for the app and the CLI; the traceback stays in status.json.
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return self.update(
            state=State.FAILED, pid=None, error=message, traceback=traceback.format_exc(), **self.out_of_phases()
        )


@dataclasses.dataclass
class TrainingData:
    dataset: data_module.Dataset
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    train_images: int
    steps_per_epoch: int
    from_head: bool = False  # Its images came from a cluster's head (vgg/cluster/worker.py), not from this disk.


@contextlib.contextmanager
def holding_run(run):
    """Holds the run's lock while this process trains it: the lock its launcher handed over, or its own.
    Yields whether a launcher started this process."""
    descriptor = locks.inherited(run.lock_path)
    launched = descriptor is not None
    descriptor = descriptor if launched else locks.acquire(run.lock_path)
    if descriptor is None:
        raise RunError(f"Run {run.name!r} is training already.")
    remove_orphaned_temporaries(run.path)  # A save of an earlier session, killed mid-write, would count on disk.
    try:
        yield launched
    finally:
        os.close(descriptor)


def train_run(run, data_dir=None, progress=print, started_at=None, dataset=None):
    """Trains (or resumes) `run` to its configured number of epochs; returns the final RunStatus.

    Waits for a training slot (vgg/runs/queue.py) unless its launcher handed it one, so that runs queue
    rather than halve each other's speed; when it ends, starts the next queued run. Any error is recorded
    as `failed` with its message. Its `preparing` phase counts from `started_at` (time.time() when its user
    began to wait: the command line's process start), or this process's start when a launcher started it, or
    now; never from before it held a slot. A loaded `dataset` (a cluster worker's, from the head) stands in for
    the images on disk.
    """
    reporter = Reporter(run, progress)
    waited = []
    try:
        with holding_run(run) as launched:
            if not launched:
                with contextlib.suppress(FileNotFoundError):
                    run.stop_path.unlink()  # Left by an earlier session; only a launcher removes it otherwise.
            with (
                StopRequest(run) as stop_request,
                holding_slot(
                    run.path.parent,
                    on_wait=lambda: waited.append(
                        reporter.update("Waiting for a training slot…", state=State.QUEUED, pid=os.getpid())
                    ),
                ),
            ):
                reporter.update(state=State.STARTING, pid=os.getpid())
                started_at = process_start_time() if launched else started_at
                reporter.clock = start_clock(run, reporter, None if waited else started_at)
                return _train_in_slot(run, data_dir, reporter, stop_request, dataset)
    finally:
        with contextlib.suppress(Exception):  # The run's own outcome is recorded; the queue is the next one's.
            start_due_runs(run.path.parent)


def start_clock(run, reporter, started_at):
    """The run's phase clock, in `preparing` since `started_at` (now when None), adding up the phases of its earlier
    sessions; a run with earlier sessions is marked `resumed`, as the estimates cannot use its records."""
    earlier = run.recorded_status().phase_seconds
    if earlier:
        reporter.update(resumed=True)
    now = time.time()
    since = min(now, started_at) if started_at is not None else now
    return PhaseClock(reporter.update, earlier, since, VALIDATION_BATCH)


@contextlib.contextmanager
def restoring_precision():
    """Gives the process back its Keras dtype policy after a run sets its own: a model built later in the same
    process (a test's, the bench's next row) must not compute in the run's bfloat16."""
    policy = keras.mixed_precision.global_policy()
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _train_in_slot(run, data_dir, reporter, stop_request, dataset):
    try:
        with restoring_precision():
            return _train(run, data_dir, reporter, stop_request, dataset)
    except KeyboardInterrupt:
        reporter.stopped("Interrupted from the keyboard.")
        raise
    except Exception as error:  # noqa: BLE001  (recorded as the run's failure, in one sentence)
        return reporter.failed(error)


def _train(run, data_dir, reporter, stop_request, dataset):
    config, strategy, on_gpu = set_up(run, reporter)
    data = prepare_data(run, config, data_dir or run.recorded_status().data_dir, reporter, dataset)
    reporter.clock.validation_images = len(data.dataset.y_val)
    with strategy.scope():
        model, checkpoint = build_or_resume(run, config, data, on_gpu, reporter)
    if stop_request.requested:
        return reporter.stopped("Stopped before training began.")
    limit = run.recorded_status().time_limit_minutes
    if limit is not None:
        stop_request.deadline = time.monotonic() + limit * 60 - checkpoint.elapsed
    stopper = StopOnRequest(stop_request, data.steps_per_epoch)
    averager = WeightAverager(run, stopper, config.average_from_epoch) if config.average_from_epoch else None
    scorer = end_scorer(config, model, data)
    if checkpoint.epochs_done < epoch_cap(config):
        fit(run, config, model, data, checkpoint, stopper, averager, reporter.clock, scorer)
        if stopper.requested and stop_request.out_of_time:
            return reporter.stopped(
                f"Stopped at the class's limit of {limit:g} min of training.",
                error=f"Stopped at the class's limit of {limit:g} min of training.",
            )
        if stopper.requested:
            return reporter.stopped("Stopped; resume with: python -m vgg train --resume " + run.name)
    return finish(run, config, model, data, averager, reporter, stop_request, scorer)


def set_up(run, reporter):
    """The validated settings, the distribution strategy and precision, recorded as `running`."""
    config = validate(run.config())
    strategy = distribution_strategy()  # Before any tensor exists: logical devices cannot change later.
    keras.utils.set_random_seed(config.seed)
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = precision_policy(config, on_gpu)
    keras.mixed_precision.set_global_policy(policy)
    device = device_summary()
    reporter.update(
        f"Training {run.name} on {device}.",
        state=State.RUNNING,
        pid=os.getpid(),
        device=device,
        replicas=strategy.num_replicas_in_sync,
        precision=policy,
        jit_compile=use_jit(config, on_gpu),
        error=None,
        traceback=None,
    )
    return config, strategy, on_gpu


def prepare_data(run, config, data_dir, reporter, dataset=None):
    given = dataset
    if dataset is None:
        dataset = data_module.load_cifar10(data_dir, validation_size=config.validation_size, seed=config.seed)
    subset = data_module.balanced_subset(dataset.y_train, config.train_subset, config.seed)
    x_train, y_train = dataset.x_train[subset], dataset.y_train[subset]
    reporter.update(data_source=dataset.source, train_images=len(y_train), val_images=len(dataset.y_val))
    train = data_module.training_dataset(config, x_train, y_train)
    validation = (
        data_module.make_tf_dataset(dataset.x_val, dataset.y_val, VALIDATION_BATCH) if len(dataset.y_val) else None
    )
    steps = max(1, len(y_train) // config.batch_size)
    return TrainingData(dataset, train, validation, len(y_train), steps, from_head=given is not None)


def build_or_resume(run, config, data, on_gpu, reporter):
    """(compiled model, where it stands): the run's checkpoint if it has one, else a new model, from
    random weights or a trained model's (widened when this run is wider, vgg/model/widen.py)."""
    if run.checkpoint_path.exists():
        model = load_checkpoint(run)
        checkpoint = checkpoint_position(run, model, data.steps_per_epoch)
        reporter.progress(f"Resuming from epoch {checkpoint.epochs_done} (step {checkpoint.step}).")
    else:
        model = build_from_config(config, for_training=True)
        if config.init_from:
            transfer_weights(load_model(config.init_from, runs_dir=run.path.parent), model, seed=config.seed)
            # Recorded now: the file may be replaced later (an export overwrites assets/), its record not.
            reporter.update(
                f"Starting from the weights of {config.init_from}.",
                started_from=ModelRecord.of(config.init_from).origin(),
            )
        elif config.whiten:  # A trained model's own first layer is what its other layers learned to read.
            whiten_first_layer(model, data.dataset.x_train, seed=config.seed)
        compile_model(model, config, data.steps_per_epoch, on_gpu)
        checkpoint = CheckpointState(0, 0, 0.0)
    # Rows logged after the checkpoint (or before any) would overlap the steps trained again.
    run.truncate_metrics(checkpoint.epochs_done)
    return model, checkpoint


def end_scorer(config, model, data):
    """For a run given minutes, the model it will save, built now as a one-view Predictor, so that its end traces
    nothing inside the budget (vgg/training/time_budget.py); None for other runs."""
    if not config.minutes or data.validation is None:
        return None
    return Predictor(inference_copy(model), flip_average=False)


def fit(run, config, model, data, checkpoint, stopper, averager, clock, scorer=None):
    logger = RunLogger(run, config, data.train_images, data.steps_per_epoch, checkpoint.elapsed, stopper)
    budget = []
    if config.minutes:
        probe = data.dataset.x_val[:VALIDATION_BATCH].astype("float32")  # As the final score's batches.
        val_images = len(data.dataset.y_val)
        budget = [TimeBudget(config, data.steps_per_epoch, clock, val_images, checkpoint.step, scorer, probe)]
        budget[0].prepare_end(model, data.validation)
    callbacks = [
        clock,
        *budget,  # After the clock, which ends `preparing` at the first step: the budget counts from there.
        stopper,
        logger,
        # After the logger: a probe's seconds fall in the next logged interval, so the speed shown is honest.
        DiagnosticsRecorder.for_run(run, config, data, checkpoint.epochs_done),
        *([averager] if averager else []),
        *([Lookahead(config.epochs * data.steps_per_epoch, checkpoint.step)] if config.lookahead else []),
        Checkpointer(run, stopper, logger, checkpoint.epochs_done, clock),
        SnapshotSaver(run, epoch_cap(config), checkpoint.epochs_done, stopper, clock),
        keras.callbacks.TensorBoard(log_dir=str(run.path / "tensorboard"), write_graph=False),
    ]
    model.fit(
        data.train,
        epochs=epoch_cap(config),
        initial_epoch=checkpoint.epochs_done,
        validation_data=data.validation,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,  # The tf.data pipeline shuffles already.
    )


def finish(run, config, model, data, averager, reporter, stop_request, scorer=None):
    """Averages (when set), saves and scores the run's model, then prepares its pages' analyses; `scorer`, a one-view
    Predictor of the saved model's architecture traced ahead, saves and scores it without tracing again."""
    clock = reporter.clock
    if averager and averager.count:
        reporter.progress(f"Averaging the weights of {averager.count} epochs and recomputing batch-norm statistics…")
        with clock.during(AVERAGING):
            averager.apply(model, data.train)
        reporter.update(averaged_epochs=averager.count)
    # Scored as saved (float32, Keras' own layers), so the run's last numbers are exactly what Predict computes.
    with clock.during(SAVING):
        saved = save_inference_model(model, run.model_path, None if scorer is None else scorer.model)
    scored, scores = final_score(saved if scorer is None else scorer, data.dataset, config, reporter)
    # Finished for its users from here, score shown; its process goes on preparing what the pages would compute.
    reporter.update(state=State.FINISHED, **scores)
    prepare_analyses(run, saved, data, scored, reporter, stop_request)
    return reporter.update(pid=None, **reporter.out_of_phases())


def inference_copy(model):
    """`model`'s architecture as a plain float32 Keras model whatever the training used (vgg/model/batch_norm.py),
    its weights not yet set."""
    return keras.Model.from_config(inference_config(model.get_config()))


def save_inference_model(model, path, inference_model=None):
    """Saves weights and architecture without the optimizer state (a third the size of a checkpoint), as
    `inference_model` (`inference_copy(model)` when None) with `model`'s weights; returns that model."""
    inference_model = inference_copy(model) if inference_model is None else inference_model
    inference_model.set_weights(model.get_weights())
    with replacing(path, f"the final model of run {path.parent.name!r}") as temporary:
        inference_model.save(temporary)
    return inference_model


def final_score(model, dataset, config, reporter):
    """(Evaluation or None, status fields): the finished model (or a one-view Predictor of it) scored as the app
    predicts it (mirror images averaged when it trained on flips), so that the run's last number is the one its users
    will see; the Evaluation is the Mistakes page's, saved for it when its images are the page's."""
    if not len(dataset.y_val):
        return None, {}
    reporter.progress("Scoring the final model on the validation images…")
    reporter.clock.switch(SCORING, len(dataset.y_val))
    try:
        scored = evaluations.compute(
            model, dataset.x_val, dataset.y_val, dataset.class_names, config.augment, reporter.clock.progress
        )
    except Exception as error:  # noqa: BLE001  (the model is saved; a failed extra score must not fail the run)
        reporter.progress(
            f"The final score could not be computed ({type(error).__name__}: {error}); the model is saved."
        )
        return None, {"final_score_error": traceback.format_exc()}
    if config.augment:
        reporter.progress(
            f"Final validation accuracy: {scored.accuracy:.2%} with each image averaged with its "
            f"mirror image ({scored.single_view_accuracy:.2%} on the images alone)."
        )
    else:
        reporter.progress(f"Final validation accuracy: {scored.accuracy:.2%}.")
    return scored, {
        "final_accuracy": scored.accuracy,
        "final_single_view_accuracy": scored.single_view_accuracy,
        "final_flip_average": config.augment,
        "final_unsure_below": scored.unsure_below,
    }


def checkpoint_position(run, model, steps_per_epoch):
    """Where a loaded checkpoint stands: its record, or, when a crash lost the record (or damaged it), the
    step count of the checkpoint's own optimizer (whole epochs only, since checkpoints end epochs)."""
    step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    with contextlib.suppress(DamagedRunError):
        state = run.checkpoint_state()
        if state is not None and state.step == step:
            return state
    return CheckpointState(step // steps_per_epoch, step, 0.0)


def load_checkpoint(run):
    try:
        return keras.saving.load_model(run.checkpoint_path, safe_mode=True, compile=True)
    except Exception as error:
        raise RunError(
            f"The checkpoint of run {run.name!r} cannot be read ({type(error).__name__}); "
            "start a new run, the old one's metrics are kept."
        ) from None
