"""The memory a model takes in the server once loaded and traced: the shipped model and the blog preset's (the
largest a class trains), which sets how many models the server keeps (vgg/core/estimate.py models_kept).

    python benchmarks/model_memory.py
"""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import vgg  # noqa: E402, F401  (TensorFlow's environment, before it is imported)


def resident_bytes():
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    from vgg.core.config import PRESETS
    from vgg.core.estimate import MODEL_MEMORY_BYTES, models_kept
    from vgg.explain.predictor import Predictor
    from vgg.model.build import build_from_config
    from vgg.model.device import cpu_name, limit_serving_threads
    from vgg.runs.record import SHIPPED_MODEL

    limit_serving_threads()  # As the server loads them.
    image = np.zeros((32, 32, 3), np.uint8)
    before = resident_bytes()
    shipped = Predictor.for_file(str(SHIPPED_MODEL), "runs")
    shipped.top_k(image, k=3)
    shipped_bytes = resident_bytes() - before
    before = resident_bytes()
    blog = build_from_config(PRESETS["blog"])
    blog.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    blog_bytes = resident_bytes() - before
    print(f"CPU: {cpu_name()}")
    print(f"Shipped model: {shipped.model.count_params():,} weights, {shipped_bytes / 2**20:.0f} MB loaded and traced")
    print(f"Blog preset:   {blog.count_params():,} weights, {blog_bytes / 2**20:.0f} MB loaded and traced")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print(
        f"Models kept at {MODEL_MEMORY_BYTES / 2**20:.0f} MB each on this machine's {memory / 2**30:.1f} GB: "
        f"{models_kept()}"
    )


if __name__ == "__main__":
    main()
