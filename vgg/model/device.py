"""What a run trains on: the device, its precision policy, XLA, and the distribution strategy."""

import contextlib
import os
import platform

import tensorflow as tf


def cpu_name():
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as file:
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
    # XLA stays off on CPUs: it slowed VGG training there (BENCHMARKS.md, the presets' XLA baselines).
    return on_gpu


def cpu_flags():
    """The instruction-set flags /proc/cpuinfo lists for the first core (empty where it cannot be read)."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


# The CPU flags of bfloat16 arithmetic that oneDNN's convolutions use.
BFLOAT16_FLAGS = {"amx_bf16", "avx512_bf16"}


def precision_policy(config, on_gpu, flags=None):
    """The Keras dtype policy. "auto" is mixed float16 on a GPU, mixed bfloat16 on a CPU with bfloat16
    instructions (AMX's matrix units or AVX-512's BF16 dot products: the cpu preset trains 1.2x to 1.6x faster
    than in float32 there, BENCHMARKS.md), float32 on other CPUs, which would emulate 16-bit numbers."""
    choice = config.mixed_precision
    if choice == "auto":
        bfloat16 = BFLOAT16_FLAGS & (cpu_flags() if flags is None else flags)
        choice = "float16" if on_gpu else "bfloat16" if bfloat16 else "off"
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


SERVING_THREADS = 1  # Per thread pool of TensorFlow in the web server: one image at a time needs no more.


def limit_serving_threads():
    """Keeps the web server's TensorFlow (predictions, feature maps) to one core, leaving the other to a
    run that trains; effective only before TensorFlow's first operation in the process."""
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(SERVING_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(SERVING_THREADS)
