"""`python -m vgg bench`: how fast this machine trains and answers, each against a baseline measured in the same run.

Throughputs time a fixed number of training steps after warm-up steps (the first steps trace and
compile, which a long run pays once). Latencies are medians of warm calls. The ratio is always the
speed-up over the baseline, so above 1 means the project's path is the faster one.
"""

import io
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks.bench_app import classroom_row, streamlit_rows
from benchmarks.bench_budget import budget_rows
from benchmarks.bench_table import format_table, make_row, summary_line
from vgg.core.cifar10 import TRAINING_IMAGES
from vgg.core.config import DEFAULT_SPLIT, PRESETS
from vgg.core.estimate import training_flops_per_image
from vgg.core.paths import ASSETS_DIR, PROJECT_ROOT
from vgg.data import cifar10 as data_module
from vgg.data import uploads as images_module
from vgg.explain import predictor as inference
from vgg.explain.attention import last_activation_name
from vgg.model.build import build_from_config
from vgg.model.device import cpu_name, precision_policy
from vgg.runs import record as model_record
from vgg.runs.metrics import read_metrics
from vgg.training.optimizer import compile_model

# Steps and calls of the full run and of --quick. Warm-up and timed phases take two steps at least:
# make_tf_dataset keeps a lone batch's shape open, and the new shape would trace the step again.
FULL_PLAN = {"warmup_steps": 3, "blog_steps": 40, "preset_steps": 60, "xla_steps": 5, "calls": 50}
QUICK_PLAN = {"warmup_steps": 2, "blog_steps": 2, "preset_steps": 2, "xla_steps": 0, "calls": 15}
# benchmarks/time_to_accuracy.py's epochs: one idea at a time against the preset, for a fixed number of steps.
TIME_TO_ACCURACY_EPOCHS = 10


# The blog's plain Keras code, run in a fresh interpreter that never imports `vgg`, so that
# TF_ENABLE_ONEDNN_OPTS stays at TensorFlow's own default there.
BLOG_BASELINE_SCRIPT = """
import json, sys, time
import keras
import numpy as np
from keras import layers
from tensorflow.python.util import _pywrap_util_port

images_path, result_path, warmup_steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
for filters, convolutions in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
    for _ in range(convolutions):
        model.add(layers.Conv2D(filters, (3, 3), padding="same", activation="relu"))
    model.add(layers.MaxPooling2D((2, 2), strides=(2, 2)))
model.add(layers.Flatten())
model.add(layers.Dense(4096, activation="relu"))
model.add(layers.Dense(4096, activation="relu"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
with np.load(images_path) as arrays:
    x = arrays["images"].astype("float32") / 255
    y = keras.utils.to_categorical(arrays["labels"], 10)
warmup_images = warmup_steps * 32
model.fit(x[:warmup_images], y[:warmup_images], batch_size=32, epochs=1)
start = time.perf_counter()
model.fit(x[warmup_images:], y[warmup_images:], batch_size=32, epochs=1)
seconds = time.perf_counter() - start
result = {"images_per_second": (len(x) - warmup_images) / seconds, "params": model.count_params(),
          "onednn": bool(_pywrap_util_port.IsMklEnabled())}
with open(result_path, "w") as file:
    json.dump(result, file)
"""


def say(message):
    """Progress goes to stderr, so that stdout holds only the table or the JSON."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def onednn_enabled():
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def machine_summary():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"machine: {cpu_name()}, {os.cpu_count()} cores, load average {load:.2f} (1 min) | "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__} | oneDNN {'on' if onednn_enabled() else 'off'}"
    )


def sample_images(count, data_dir, seed=0):
    """`count` uint8 images and labels: real ones from `data_dir` (repeated when too few), else random pixels."""
    if data_dir:
        dataset = data_module.load_cifar10(data_dir, validation_size=0, seed=seed)
        order = np.random.default_rng(seed).permutation(len(dataset.y_train))
        images, labels = dataset.x_train[order], dataset.y_train[order]
        return np.resize(images, (count, *images.shape[1:])), np.resize(labels, count)
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, size=count)


def trainer_throughput(config, images, labels, warmup_steps):
    """(images per second, parameters, training FLOPs per image) of the project's trainer path: build,
    compile, tf.data, `fit` without callbacks."""
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy(precision_policy(config, on_gpu))
    model = build_from_config(config, for_training=True)
    compile_model(model, config, steps_per_epoch=len(labels) // config.batch_size, on_gpu=on_gpu)
    warmup_images = warmup_steps * config.batch_size

    def fit(start, stop):
        dataset = data_module.training_dataset(config, images[start:stop], labels[start:stop])
        model.fit(dataset, epochs=1, shuffle=False, verbose=0)

    fit(0, warmup_images)
    start = time.perf_counter()
    fit(warmup_images, len(labels))
    seconds = time.perf_counter() - start
    params, flops_per_image = model.count_params(), training_flops_per_image(config)
    keras.backend.clear_session()
    # The next model built here (another preset, the inference rows) must not inherit this policy.
    keras.mixed_precision.set_global_policy("float32")
    return (len(labels) - warmup_images) / seconds, params, flops_per_image


def blog_baseline_throughput(images, labels, warmup_steps):
    """Runs BLOG_BASELINE_SCRIPT in a fresh interpreter; returns its result dictionary."""
    environment = dict(os.environ)
    # `import vgg` set the flag in this process; the blog's code runs with TensorFlow's default.
    environment.pop("TF_ENABLE_ONEDNN_OPTS", None)
    with tempfile.TemporaryDirectory(prefix="vgg-bench-") as folder:
        images_path, result_path = pathlib.Path(folder, "images.npz"), pathlib.Path(folder, "result.json")
        np.savez(images_path, images=images, labels=labels)
        command = [sys.executable, "-c", BLOG_BASELINE_SCRIPT, str(images_path), str(result_path), str(warmup_steps)]
        finished = subprocess.run(command, env=environment, cwd=folder, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"The blog baseline failed: {finished.stderr.strip()[-2000:]}")
        return json.loads(result_path.read_text())


def matmul_gflops(size=2048, repeats=20, dtype="float32"):
    """This CPU's matrix-multiply rate in `dtype` through TensorFlow (oneDNN), timed warm: the practical peak, from
    the fastest call, as other work on a shared machine only ever slows one down."""
    left = tf.cast(tf.random.normal([size, size]), dtype)
    right = tf.cast(tf.random.normal([size, size]), dtype)
    multiply = tf.function(lambda: tf.matmul(left, right))
    multiply().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        multiply().numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times) / 1e9


def peak_dtype(config):
    """The dtype of the matrix multiplies `config` trains with here: bfloat16 under mixed bfloat16 (a CPU with
    bfloat16 instructions), else float32."""
    policy = precision_policy(config, on_gpu=bool(tf.config.list_physical_devices("GPU")))
    return "bfloat16" if policy == "mixed_bfloat16" else "float32"


def compute_share_row(name, images_per_second, config, peak):
    """The row of `config`'s training GFLOP/s (training FLOPs per image from its layer plan, vgg/core/estimate.py)
    against `peak`, the matrix-multiply GFLOP/s measured in the same run: its ratio is the share of the peak."""
    flops = training_flops_per_image(config)
    gflops = images_per_second * flops / 1e9
    return make_row(
        f"{name} training compute",
        gflops,
        "GFLOP/s",
        peak,
        f"{peak_dtype(config)} 2048x2048 matmul peak in this run",
        None,
        f"{flops / 1e9:.3f} GFLOP per training image (3x the forward pass's conv and Dense multiply-adds) at "
        f"{images_per_second:,.0f} images/s: {gflops / peak:.1%} of the {peak:.0f} GFLOP/s peak",
    )


def median_milliseconds(function, calls):
    for _ in range(3):
        function()  # The first calls trace the tf.functions; a user pays that once per model.
    durations = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        durations.append((time.perf_counter() - start) * 1000)
    return statistics.median(durations)


def eager_grad_cam(model, layer_name, batch):
    """Grad-CAM as the Keras example writes it: an eager GradientTape, no tf.function."""
    grad_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.outputs[0]])

    def run():
        with tf.GradientTape() as tape:
            activations, probabilities = grad_model(batch)
            score = probabilities[:, tf.argmax(probabilities[0])]
        gradients = tape.gradient(score, activations)
        weights = tf.reduce_mean(gradients, axis=(0, 1, 2))
        heatmap = tf.nn.relu(tf.reduce_sum(activations[0] * weights, axis=-1))
        return (heatmap / (tf.reduce_max(heatmap) + 1e-12)).numpy()

    return run


def training_rows(args, plan):
    rows = []
    blog = PRESETS["blog"]
    count = (plan["warmup_steps"] + plan["blog_steps"]) * blog.batch_size
    images, labels = sample_images(count, args.data_dir)
    say(f"training the blog preset through the trainer ({plan['blog_steps']} timed steps)")
    project, project_params, flops_per_image = trainer_throughput(blog, images, labels, plan["warmup_steps"])
    say("training the blog's plain Keras code in a fresh interpreter")
    baseline = blog_baseline_throughput(images, labels, plan["warmup_steps"])
    note = (
        f"baseline oneDNN {'on' if baseline['onednn'] else 'off'} (TensorFlow's default here), "
        f"project oneDNN {'on' if onednn_enabled() else 'off'}; "
        f"parameters {project_params:,} vs {baseline['params']:,}"
    )
    rows.append(
        make_row(
            "blog training",
            project,
            "images/s",
            baseline["images_per_second"],
            "blog's model.fit(numpy, batch_size=32) in plain Keras",
            ("ratio", ">=", 4),
            note,
        )
    )
    # How close to the CPU's limit both are: the ceiling on any float32 speed-up of this model.
    say("timing float32 matrix multiplies, the practical peak")
    peak = matmul_gflops()
    rows.append(
        make_row(
            "blog training compute",
            project * flops_per_image / 1e9,
            "GFLOP/s",
            baseline["images_per_second"] * flops_per_image / 1e9,
            "the blog's plain Keras",
            None,
            f"{flops_per_image / 1e9:.2f} GFLOP per training image; float32 matmul peak here "
            f"{peak:.0f} GFLOP/s, so at most "
            f"{peak / (baseline['images_per_second'] * flops_per_image / 1e9):.1f}x "
            f"over the baseline without fewer FLOPs",
        )
    )

    for name in ("cpu", "half"):
        config = PRESETS[name]
        count = (plan["warmup_steps"] + plan["preset_steps"]) * config.batch_size
        images, labels = sample_images(count, args.data_dir)
        say(f"training the {name} preset through the trainer ({plan['preset_steps']} timed steps)")
        project, _, _ = trainer_throughput(config, images, labels, plan["warmup_steps"])
        xla, xla_name, note = None, None, "XLA baseline measured in the full run only"
        if plan["xla_steps"]:
            say(f"training the {name} preset with jit_compile on ({plan['xla_steps']} timed steps)")
            count = (plan["warmup_steps"] + plan["xla_steps"]) * config.batch_size
            xla, _, _ = trainer_throughput(
                config.replace(jit_compile="on"), images[:count], labels[:count], plan["warmup_steps"]
            )
            xla_name, note = "same preset with jit_compile on", f"preset's jit_compile={config.jit_compile} vs on"
        rows.append(make_row(f"{name} training", project, "images/s", xla, xla_name, None, note))
        if name == "cpu":
            dtype = peak_dtype(config)
            say(f"timing {dtype} matrix multiplies right after the cpu preset's training, at the same load")
            rows.append(compute_share_row(name, project, config, matmul_gflops(dtype=dtype)))
    return rows


def inference_rows(args, plan):
    shipped = model_record.default_model_path()
    if shipped:
        model, source = inference.load_model(shipped, runs_dir=ASSETS_DIR), f"shipped model {shipped.name}"
    else:
        model, source = build_from_config(PRESETS["cpu"]), "cpu preset model built fresh (no shipped model)"
    predictor = inference.Predictor(model)
    sample, _ = sample_images(1, args.data_dir, seed=1)
    png = io.BytesIO()
    from PIL import Image

    Image.fromarray(sample[0]).save(png, format="PNG")
    _, pixels = images_module.load_upload(png.getvalue(), "bench.png")
    batch = tf.constant(pixels[None].astype(np.float32))
    calls = plan["calls"]
    say(f"timing inference on the {source}, median of {calls} calls")

    top_k = median_milliseconds(lambda: predictor.top_k(pixels, k=5), calls)
    predict = median_milliseconds(lambda: model.predict(pixels[None], verbose=0), calls)
    grad_cam = median_milliseconds(lambda: predictor.grad_cam(pixels), calls)
    eager = median_milliseconds(eager_grad_cam(model, last_activation_name(model, 4), batch), calls)
    features = median_milliseconds(lambda: predictor.feature_maps(pixels), calls)
    names = predictor.activation_names + predictor.pool_names
    feature_model = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    features_predict = median_milliseconds(lambda: feature_model.predict(batch, verbose=0), calls)
    keras.backend.clear_session()
    return [
        make_row(
            "top-5 of one image", top_k, "ms", predict, "model.predict(x, verbose=0)", ("value", "<=", 10), source
        ),
        make_row(
            "Grad-CAM", grad_cam, "ms", eager, "eager GradientTape (the Keras example)", ("value", "<=", 30), source
        ),
        make_row(
            "feature maps, 5 blocks",
            features,
            "ms",
            features_predict,
            "keras.Model(outputs=every block).predict",
            ("value", "<=", 50),
            source,
        ),
    ]


def diagnostics_row(args, rounds=4):
    """The training doctor's probes against the same steps without them, on the cpu preset at its first-epoch
    rate (a probe every `probe_interval` steps; later epochs probe once each), per second of this process's CPU
    time."""
    from benchmarks.probe_cost import probe_cost
    from vgg.training.probes import probe_interval

    config = PRESETS["cpu"]
    steps = probe_interval((TRAINING_IMAGES - DEFAULT_SPLIT[0]) // config.batch_size, config.batch_size)
    images, labels = sample_images((3 + steps) * config.batch_size, args.data_dir)
    probe_images, probe_labels = sample_images(200, args.data_dir, seed=1)
    say(f"training the cpu preset with and without the doctor's probes ({rounds} x {steps} steps each)")
    with tempfile.TemporaryDirectory(prefix="vgg-bench-probes-") as folder:
        cost = probe_cost(
            config, images, labels, probe_images, probe_labels, pathlib.Path(folder), rounds=rounds, steps=steps
        )
    return make_row(
        "cpu training with the doctor's probes",
        cost["cpu_with"],
        "images/s",
        cost["cpu_without"],
        "same steps without probes",
        ("ratio", ">=", 0.95),
        f"per CPU-second; by the wall clock {cost['wall_with']:.0f} vs {cost['wall_without']:.0f} "
        f"images/s; "
        f"one probe of 200 images every {steps} steps, which took {cost['probe_share']:.1%} of the time",
    )


def follow_epochs(process, metrics_path, start):
    """Until `process` ends: (epoch, seconds since `start`, validation accuracy, the epoch's images/s) as each
    epoch's line appears."""
    curve = []
    while True:
        finished = process.poll() is not None
        now = time.perf_counter() - start
        for row in read_metrics(metrics_path).validated_epochs:
            if row.epoch > len(curve):
                curve.append((row.epoch, now, row.val_accuracy, row.images_per_second))
        if finished:
            return curve
        time.sleep(0.2)


def time_to_accuracy_curve(data_dir, epochs=TIME_TO_ACCURACY_EPOCHS, options=()):
    """(curve of (epoch, seconds, validation accuracy), whole command's seconds, final score) of a real
    cpu-preset run, with `options` added to its command line."""
    with tempfile.TemporaryDirectory(prefix="vgg-bench-runs-") as runs_dir:
        command = [
            sys.executable,
            "-m",
            "vgg",
            "train",
            "--preset",
            "cpu",
            "--epochs",
            str(epochs),
            "--data-dir",
            str(data_dir),
            "--runs-dir",
            runs_dir,
            "--name",
            "time-to-accuracy",
            "--json",
            *options,
        ]
        metrics_path = pathlib.Path(runs_dir, "time-to-accuracy", "metrics.jsonl")
        output_path, log_path = pathlib.Path(runs_dir, "summary.json"), pathlib.Path(runs_dir, "train.log")
        start = time.perf_counter()
        # Output goes to files: a pipe nobody reads for five minutes could fill and stall the training.
        with open(output_path, "w") as output, open(log_path, "w") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=output, stderr=log, text=True)
            curve = follow_epochs(process, metrics_path, start)
        total = time.perf_counter() - start
        if process.returncode != 0:
            raise RuntimeError(f"The time-to-accuracy training failed: {log_path.read_text().strip()[-2000:]}")
        final = json.loads(output_path.read_text()).get("final_accuracy")
    return curve, total, final


def main(args):
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    machine = machine_summary()
    # The machine line heads the table; with --json it goes to stderr, keeping stdout one JSON list.
    print(machine, file=sys.stderr if args.json else sys.stdout, flush=True)
    started = time.perf_counter()
    rows = training_rows(args, plan) + inference_rows(args, plan) + streamlit_rows(args)
    if not args.quick:
        rows += [classroom_row(args), diagnostics_row(args)] + budget_rows(args.data_dir, say)
    say(f"finished in {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps(rows, indent=2))
        say(summary_line(rows).removeprefix("bench: "))
    else:
        print(format_table(rows))
        print(summary_line(rows))
