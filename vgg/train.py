"""Trains a run in this process: `model.fit` with callbacks that log, checkpoint and stop on request."""

import contextlib
import json
import math
import os
import platform
import signal
import time
import traceback

import keras
import numpy as np
import tensorflow as tf

from vgg import data as data_module
from vgg.config import validate
from vgg.inference import evaluate, load_model
from vgg.model import build_from_config
from vgg.runs import RunError, model_origin, read_json, training_lock, write_json_atomically
from vgg.widen import transfer_weights


def cpu_name():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "CPU"


def device_summary():
    """What TensorFlow will train on, in one line, e.g. 'CPU (AMD EPYC, 2 cores)'."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for gpu in gpus:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return f"GPU ({', '.join(names)})"
    return f"CPU ({cpu_name()}, {os.cpu_count()} cores)"


def use_jit(config, on_gpu):
    if config.jit_compile != "auto":
        return config.jit_compile == "on"
    # Measured on the 2-core AVX-512 CPU with oneDNN (BENCHMARKS.md): XLA made a quarter-width
    # VGG16 2.5x and a half-width one 7x slower there, so on a CPU it stays off.
    return on_gpu


def precision_policy(config, on_gpu):
    """The Keras dtype policy: mixed float16 on a GPU, float32 on a CPU. Mixed bfloat16 stays a
    choice: on the AVX-512-BF16 CPU we measured it trained the blog's model no faster (125 images/s
    either way), nor a half-width one on a CPU with AMX (271 against 273, BENCHMARKS.md), and
    emulated 16-bit is far slower on CPUs without it."""
    choice = config.mixed_precision
    if choice == "auto":
        choice = "float16" if on_gpu else "off"
    return {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[choice]


CPU_REPLICAS_VARIABLE = "VGG_CPU_REPLICAS"


def distribution_strategy():
    """MirroredStrategy over every GPU when there are several, else the default strategy.

    VGG_CPU_REPLICAS=N splits the CPU into N logical devices and mirrors over them: the same
    code path as several GPUs, testable on a machine without any. Must run before TensorFlow
    creates its first tensor, since logical devices cannot change after that.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    cpu_replicas = int(os.environ.get(CPU_REPLICAS_VARIABLE) or 0)
    if cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        return tf.distribute.MirroredStrategy([f"/cpu:{index}" for index in range(cpu_replicas)])
    return tf.distribute.get_strategy()


def learning_rate_schedule(config, steps_per_epoch):
    if config.schedule == "constant":
        return config.learning_rate
    total_steps = max(1, config.epochs * steps_per_epoch)
    warmup_steps = min(total_steps - 1, int(config.warmup_epochs * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 100 if warmup_steps else config.learning_rate,
        warmup_target=config.learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
        decay_steps=total_steps - warmup_steps,
    )


def make_optimizer(config, steps_per_epoch):
    learning_rate = learning_rate_schedule(config, steps_per_epoch)
    weight_decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum, nesterov=True, weight_decay=weight_decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    return keras.optimizers.Adam(learning_rate, weight_decay=weight_decay)


def compile_model(model, config, steps_per_epoch, on_gpu):
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=use_jit(config, on_gpu),
    )


def current_learning_rate(optimizer):
    learning_rate = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(learning_rate))


class RunLogger(keras.callbacks.Callback):
    """Appends batch and epoch lines to metrics.jsonl, flushed at once so the app can draw them live."""

    def __init__(self, run, config, images_per_epoch, steps_per_epoch, started_elapsed, stopper):
        super().__init__()
        self.stopper = stopper
        self.run = run
        self.config = config
        self.images_per_epoch = images_per_epoch
        self.steps_per_epoch = steps_per_epoch
        self.elapsed_before = started_elapsed  # Training seconds of earlier sessions of this run.
        self.file = open(run.metrics_path, "a")

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()
        self.last_time = self.start
        self.last_step = self.global_step()

    def global_step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def elapsed(self):
        return self.elapsed_before + time.monotonic() - self.start

    def write(self, row):
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_started = self.elapsed()
        # Keras reports running means that restart every epoch; the logger turns them into the
        # mean over each logging interval, so curves do not jump at epoch boundaries.
        self.sums_at_last_log = {"loss": 0.0, "accuracy": 0.0}
        self.batches_at_last_log = 0

    def interval_means(self, batches_done, logs):
        means = {}
        for key, last_sum in self.sums_at_last_log.items():
            total = float(logs[key]) * batches_done
            means[key] = (total - last_sum) / max(batches_done - self.batches_at_last_log, 1)
            self.sums_at_last_log[key] = total
        self.batches_at_last_log = batches_done
        return means

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        is_last = batch + 1 == self.steps_per_epoch
        if now - self.last_time < self.config.log_every_seconds and not is_last:
            return
        step = self.global_step()
        images_per_second = (step - self.last_step) * self.config.batch_size / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, step
        means = self.interval_means(batch + 1, logs)
        self.write(
            {
                "kind": "batch",
                "step": step,
                "epoch": self.epoch + (batch + 1) / self.steps_per_epoch,
                "loss": means["loss"],
                "accuracy": means["accuracy"],
                "learning_rate": current_learning_rate(self.model.optimizer),
                "images_per_second": round(images_per_second, 1),
                "elapsed": round(self.elapsed(), 2),
            }
        )

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.mid_epoch:
            return  # Not an epoch: its numbers would describe a fraction of one.
        logs = logs or {}
        row = {
            "kind": "epoch",
            "step": self.global_step(),
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", math.nan)),
            "accuracy": float(logs.get("accuracy", math.nan)),
            "val_loss": float(logs["val_loss"]) if "val_loss" in logs else None,
            "val_accuracy": float(logs["val_accuracy"]) if "val_accuracy" in logs else None,
            "learning_rate": current_learning_rate(self.model.optimizer),
            # Includes the validation pass: the rate a user waits at, not the kernel's peak.
            "images_per_second": round(self.images_per_epoch / max(self.elapsed() - self.epoch_started, 1e-9), 1),
            "elapsed": round(self.elapsed(), 2),
        }
        self.write(row)

    def on_train_end(self, logs=None):
        self.file.close()


class StopRequest:
    """Whether this run was asked to stop: by SIGTERM, or by a stop file newer than this process.

    The handler is installed when training starts (before the data loads), so a Stop pressed
    while the run prepares still ends in a clean `stopped`; a stop file left from an earlier
    session of the run is ignored, since it is older than this one.
    """

    def __init__(self, run):
        self.run = run
        self.started = time.time()
        self.signalled = False

    def __enter__(self):
        self.previous_handler = signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def __exit__(self, *exception):
        signal.signal(signal.SIGTERM, self.previous_handler)

    def _on_signal(self, signum, frame):
        self.signalled = True

    @property
    def requested(self):
        if self.signalled:
            return True
        with contextlib.suppress(OSError):
            return self.run.stop_path.stat().st_mtime >= self.started
        return False


class StopOnRequest(keras.callbacks.Callback):
    """Sets `stop_training` after the batch during which a stop was requested."""

    def __init__(self, stop_request, steps_per_epoch):
        super().__init__()
        self.stop_request = stop_request
        self.steps_per_epoch = steps_per_epoch
        self.requested = False
        self.mid_epoch = False  # Keras still ends the epoch (validation, epoch callbacks) after a stop.

    def on_train_batch_end(self, batch, logs=None):
        if not self.requested and self.stop_request.requested:
            self.requested = True
            self.mid_epoch = batch + 1 < self.steps_per_epoch
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """Saves model and optimizer after every complete epoch and on a stop, replacing files atomically."""

    def __init__(self, run, stopper, logger, epochs_done):
        super().__init__()
        self.run = run
        self.stopper = stopper
        self.logger = logger
        self.epochs_done = epochs_done

    def save(self):
        save_atomically(self.model, self.run.checkpoint_path, self.run.path / ".checkpoint.tmp.keras", "checkpoint")
        # Written after the model: if a crash falls between the two, resuming reads the position
        # from the checkpoint's own optimizer (see _train_locked).
        state = {"epochs_done": self.epochs_done, "step": self.logger.global_step(), "elapsed": self.logger.elapsed()}
        write_json_atomically(self.run.path / "checkpoint.json", state)

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.mid_epoch:
            return  # An epoch cut short by a stop is not done; resuming trains it again.
        self.epochs_done = epoch + 1
        self.save()

    def on_train_end(self, logs=None):
        if self.stopper.mid_epoch:
            self.save()


class WeightAverager(keras.callbacks.Callback):
    """Keeps the running mean of the trainable weights at the end of each epoch from
    `average_from_epoch` on (stochastic weight averaging), saved beside the checkpoint so a
    resumed run goes on averaging. Runs before the Checkpointer: an epoch averaged but not
    checkpointed (a crash between the two saves) is trained again, not averaged twice."""

    def __init__(self, run, stopper, first_epoch):
        super().__init__()
        self.path = run.path / "weight_average.npz"
        self.stopper = stopper
        self.first_epoch = first_epoch
        self.mean, self.count, self.last_epoch = None, 0, 0
        if self.path.exists():
            try:
                with np.load(self.path) as saved:
                    self.count, self.last_epoch = int(saved["count"]), int(saved["last_epoch"])
                    self.mean = [saved[f"weight_{index}"] for index in range(len(saved.files) - 2)]
            except (OSError, ValueError, KeyError) as error:
                raise RunError(
                    f"The weight average of run {run.name!r} cannot be read ({type(error).__name__}); delete "
                    f"{self.path.name} from its folder to resume with the average restarting at the next epoch."
                ) from None

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.mid_epoch or epoch + 1 < self.first_epoch or epoch + 1 <= self.last_epoch:
            return
        weights = [keras.ops.convert_to_numpy(weight).astype(np.float64) for weight in self.model.trainable_weights]
        self.count += 1
        if self.mean is None:
            self.mean = weights
        else:
            self.mean = [mean + (weight - mean) / self.count for mean, weight in zip(self.mean, weights)]
        self.last_epoch = epoch + 1
        temporary = self.path.with_name(".weight_average.tmp.npz")
        arrays = {f"weight_{index}": mean for index, mean in enumerate(self.mean)}
        np.savez(temporary, count=self.count, last_epoch=self.last_epoch, **arrays)
        os.replace(temporary, self.path)

    def apply(self, model, train_data):
        """Puts the averaged weights into `model`, then recomputes its batch-norm statistics,
        which no average of weights gives: the averaged network's activations differ."""
        for weight, mean in zip(model.trainable_weights, self.mean):
            weight.assign(mean.astype(weight.dtype))
        recompute_batch_norm_statistics(model, train_data)


def recompute_batch_norm_statistics(model, dataset):
    """One pass over `dataset` in training mode, with each batch-norm layer's moving statistics
    set to the plain mean over the pass's batches instead of an exponential one."""
    batch_norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batch_norms]
    for layer in batch_norms:
        layer.moving_mean.assign(keras.ops.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(keras.ops.ones_like(layer.moving_variance))
    try:
        for index, (images, _) in enumerate(dataset):
            # Momentum index/(index+1) makes the update a cumulative mean: batch k counts 1/(k+1).
            for layer in batch_norms:
                layer.momentum = index / (index + 1)
            model(images, training=True)
    finally:
        for layer, momentum in zip(batch_norms, momenta):
            layer.momentum = momentum


def prepare_data(config, data_dir):
    dataset = data_module.load_cifar10(data_dir, validation_size=config.validation_size, seed=config.seed)
    subset = data_module.balanced_subset(dataset.y_train, config.train_subset, config.seed)
    return dataset, dataset.x_train[subset], dataset.y_train[subset]


def save_atomically(model, path, temporary, what):
    """Saves to `temporary` and moves it over `path`, so `path` is always the last complete save."""
    try:
        model.save(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        # A half-written file would keep a full disk full, and then not even the failure could be
        # recorded in status.json.
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise RunError(
                f"Could not save the {what} of run {path.parent.name!r} ({error.strerror or error}); "
                "the one saved before is kept."
            ) from None
        raise


def save_inference_model(model, path):
    """Saves weights and architecture without the optimizer state: a third the size of a checkpoint."""
    inference_model = keras.Model.from_config(model.get_config())
    inference_model.set_weights(model.get_weights())
    save_atomically(inference_model, path, path.with_name(f".{path.name}.tmp.keras"), "final model")


def train_run(run, data_dir=None, progress=print):
    """Trains (or resumes) `run` to its configured number of epochs; returns the final status.

    Waits while another process trains in the same runs folder, so that runs queue rather
    than halve each other's speed. Any error is recorded as `failed` with its message.
    """
    runs_dir = run.path.parent
    run.update_status(state="queued", pid=os.getpid())
    with StopRequest(run) as stop_request, training_lock(runs_dir, blocking=True):
        try:
            return _train_locked(run, data_dir, progress, stop_request)
        except KeyboardInterrupt:
            run.update_status(state="stopped", pid=None, error="Interrupted from the keyboard.")
            raise
        except Exception as error:
            # Recorded for the app and the CLI to say in one sentence; the traceback stays in status.json.
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return run.update_status(state="failed", pid=None, error=message, traceback=traceback.format_exc())


def _train_locked(run, data_dir, progress, stop_request):
    config = validate(run.config())
    status = run.status()
    data_dir = data_dir or status.get("data_dir")
    strategy = distribution_strategy()
    keras.utils.set_random_seed(config.seed)
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = precision_policy(config, on_gpu)
    keras.mixed_precision.set_global_policy(policy)
    device = device_summary()
    run.update_status(state="running", pid=os.getpid(), device=device, replicas=strategy.num_replicas_in_sync,
                      precision=policy,
                      jit_compile=use_jit(config, on_gpu), error=None, traceback=None, phase=None)
    progress(f"Training {run.name} on {device}.")

    dataset, x_train, y_train = prepare_data(config, data_dir)
    run.update_status(data_source=dataset.source, train_images=len(y_train), val_images=len(dataset.y_val))
    steps_per_epoch = max(1, len(y_train) // config.batch_size)
    train_data = data_module.make_tf_dataset(
        x_train, y_train, config.batch_size, augment=config.augment, shuffle=True, seed=config.seed,
        cutout_size=config.cutout_size,
    )
    val_data = data_module.make_tf_dataset(dataset.x_val, dataset.y_val, 500) if len(dataset.y_val) else None

    checkpoint = None
    with strategy.scope():
        if run.checkpoint_path.exists():
            model = load_checkpoint(run)
            checkpoint = _checkpoint_position(run, model, steps_per_epoch)
            progress(f"Resuming from epoch {checkpoint['epochs_done']} (step {checkpoint['step']}).")
        else:
            model = build_from_config(config)
            if config.init_from:
                # A warm start: the trained model's weights, widened when this run is wider (vgg/widen.py).
                transfer_weights(load_model(config.init_from, runs_dir=run.path.parent), model, seed=config.seed)
                # Recorded now: the file may be replaced later (an export overwrites assets/), its record not.
                run.update_status(started_from=model_origin(config.init_from))
                progress(f"Starting from the weights of {config.init_from}.")
            compile_model(model, config, steps_per_epoch, on_gpu)
    # Lines logged after the checkpoint (or before any) would overlap the steps trained again.
    run.truncate_metrics(checkpoint["step"] if checkpoint else 0)
    initial_epoch = checkpoint["epochs_done"] if checkpoint else 0

    if stop_request.requested:
        progress("Stopped before training began.")
        return run.update_status(state="stopped", pid=None)
    stopper = StopOnRequest(stop_request, steps_per_epoch)
    averager = WeightAverager(run, stopper, config.average_from_epoch) if config.average_from_epoch else None
    if initial_epoch < config.epochs:
        logger = RunLogger(run, config, len(y_train), steps_per_epoch, checkpoint["elapsed"] if checkpoint else 0.0, stopper)
        callbacks = [
            stopper,
            logger,
            *([averager] if averager else []),
            Checkpointer(run, stopper, logger, initial_epoch),
            keras.callbacks.TensorBoard(log_dir=str(run.path / "tensorboard"), write_graph=False),
        ]
        model.fit(
            train_data,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            validation_data=val_data,
            callbacks=callbacks,
            shuffle=False,  # The tf.data pipeline shuffles already.
            verbose=0,
        )
        if stopper.requested:
            progress("Stopped; resume with: python -m vgg train --resume " + run.name)
            return run.update_status(state="stopped", pid=None)
    if averager and averager.count:
        run.update_status(phase="averaging weights")
        progress(f"Averaging the weights of {averager.count} epochs and recomputing batch-norm statistics…")
        averager.apply(model, train_data)
        run.update_status(averaged_epochs=averager.count)
    save_inference_model(model, run.model_path)
    return run.update_status(state="finished", pid=None, **final_score(run, model, dataset, config, progress))


def final_score(run, model, dataset, config, progress):
    """The finished model scored as the app predicts it (mirror images averaged when it trained on
    flips), so that the run's last number is the one its users will see. Status fields, or none."""
    if not len(dataset.y_val):
        return {}
    run.update_status(phase="scoring the final model")
    progress("Scoring the final model on the validation images…")
    try:
        result = evaluate(model, dataset.x_val, dataset.y_val, num_classes=len(dataset.class_names), flip_average=config.augment)
    except Exception as error:  # noqa: BLE001  (the model is saved; a failed extra score must not fail the run)
        progress(f"The final score could not be computed ({type(error).__name__}: {error}); the model is saved.")
        return {"phase": None, "final_score_error": traceback.format_exc()}
    if config.augment:
        progress(f"Final validation accuracy: {result['accuracy']:.2%} with each image averaged with its mirror "
                 f"image ({result['single_view_accuracy']:.2%} on the images alone).")
    else:
        progress(f"Final validation accuracy: {result['accuracy']:.2%}.")
    return {"phase": None, "final_accuracy": result["accuracy"], "final_single_view_accuracy": result["single_view_accuracy"],
            "final_flip_average": config.augment}


def _checkpoint_position(run, model, steps_per_epoch):
    """Where a loaded checkpoint stands: its record, or, when a crash lost the record, the step
    count of the checkpoint's own optimizer (whole epochs only, since checkpoints end epochs)."""
    state = read_json(run.path / "checkpoint.json")
    step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    if state is None or state.get("step") != step:
        state = {"epochs_done": step // steps_per_epoch, "step": step, "elapsed": 0.0}
    return state


def load_checkpoint(run):
    try:
        return keras.saving.load_model(run.checkpoint_path, safe_mode=True, compile=True)
    except Exception as error:
        raise RunError(
            f"The checkpoint of run {run.name!r} cannot be read ({type(error).__name__}); "
            "start a new run, the old one's metrics are kept."
        ) from None
