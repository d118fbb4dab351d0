"""The doctor's probes' cost on the trainer's `fit`, for the bench's probe row (benchmarks/bench.py)."""

import time

import keras
import numpy as np
import tensorflow as tf

from vgg.training.probes import DiagnosticsRecorder


def probe_cost(config, images, labels, probe_images, probe_labels, folder, rounds=2, steps=20, warmup_steps=3):
    """The cost of the probes on the trainer's `fit`: one compiled model trains alternating chunks of `steps`
    steps without and with the recorder, which probes once per chunk (the first epoch's rate at the cpu
    preset's interval, `probe_interval`). Returns a dict of images/s without and with probes by the wall clock
    and by this process's CPU time (which other work on a shared machine disturbs far less), and the share
    of the time with probes that the probes themselves took."""
    from vgg.data.cifar10 import make_tf_dataset
    from vgg.model.build import build_from_config
    from vgg.model.device import precision_policy
    from vgg.runs.diagnostics import read_diagnostics_file
    from vgg.training.optimizer import compile_model

    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy(precision_policy(config, on_gpu))
    model = build_from_config(config, for_training=True)
    compile_model(model, config, steps_per_epoch=steps, on_gpu=on_gpu)
    path = folder / "diagnostics.jsonl"
    recorder = DiagnosticsRecorder(path, probe_images, probe_labels, steps_per_epoch=steps, interval=steps)

    def fit(count, callbacks):
        dataset = make_tf_dataset(
            images[: count * config.batch_size],
            labels[: count * config.batch_size],
            config.batch_size,
            augment=config.augment,
            shuffle=True,
            seed=config.seed,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
        return np.array([time.perf_counter() - wall, time.process_time() - cpu])

    # Both sides run a batch hook, as the trainer always does (its logger, its stop check): Keras hands
    # callbacks their logs then, which the recorder must not be charged for.
    hook = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: None)
    fit(warmup_steps, [hook])
    fit(steps, [hook, recorder])  # Traces the probe; the timed chunks below probe as often.
    seconds = {False: np.zeros(2), True: np.zeros(2)}
    for round_index in range(rounds):
        for probing in (False, True) if round_index % 2 == 0 else (True, False):  # Cancels drift in the load.
            seconds[probing] += fit(steps, [hook, recorder] if probing else [hook])
    probe_seconds = sum(probe.seconds for probe in read_diagnostics_file(path).probes[-rounds:])
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    images_timed = rounds * steps * config.batch_size
    (wall_without, cpu_without), (wall_with, cpu_with) = (
        (images_timed / seconds[False]).tolist(),
        (images_timed / seconds[True]).tolist(),
    )
    return {
        "wall_without": wall_without,
        "wall_with": wall_with,
        "cpu_without": cpu_without,
        "cpu_with": cpu_with,
        "probe_share": float(probe_seconds / seconds[True][0]),
    }
