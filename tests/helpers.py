"""What the tests share that is not a fixture: generated images, the tiny config, AppTest pages and what they
show, the one-sentence check, quiet training and stopping a run. (Fixtures are in conftest.py; the browser's
helpers in browser_helpers.py.)"""

import contextlib
import html
import io
import os
import pathlib
import re
import subprocess

import numpy as np
from PIL import Image, ImageOps

# Importing vgg sets TensorFlow's environment (oneDNN, logging) before anything loads it.
import vgg  # noqa: F401
from vgg.core.config import TrainConfig
from vgg.data.cifar10 import CLASS_NAMES

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_CIFAR10 = PROJECT_ROOT.parent / "shared" / "cifar10"
# The teacher's password of every class-mode test.
PASSWORD = "correct horse"
NOT_ACTIVE = ("created", "finished", "stopped", "failed", "interrupted", "unknown")


# Generated images -----------------------------------------------------------------------------------------------


def class_templates(num_classes=10, seed=1234):
    """One smooth random 32x32 colour pattern per class: easy for a CNN, impossible by colour alone."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(num_classes, 4, 4, 3))
    return np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)


def generated_images(per_class, seed=0, num_classes=10):
    """Class templates, shifted by up to 2 pixels and with noise: (images uint8, labels)."""
    rng = np.random.default_rng(seed)
    templates = class_templates(num_classes)
    images, labels = [], []
    for label in range(num_classes):
        for _ in range(per_class):
            shift = rng.integers(-2, 3, size=2)
            image = np.roll(templates[label], tuple(shift), axis=(0, 1)) + rng.normal(0, 25, size=(32, 32, 3))
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels)


def write_image_folder(root, per_class, seed=0, suffix=".png"):
    """Writes root/train/<class>/NNNN.png like ../shared/cifar10 and returns root."""
    images, labels = generated_images(per_class, seed)
    counters = {}
    for image, label in zip(images, labels, strict=True):
        folder = pathlib.Path(root) / "train" / CLASS_NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        index = counters.get(label, 0)
        counters[label] = index + 1
        Image.fromarray(image).save(folder / f"{index:04d}{suffix}")
    return pathlib.Path(root)


def png_bytes(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def real_cifar10(root, per_class, validation_size):
    """A CIFAR-10 folder of links to the shared images' first `per_class` of each class, loaded as the app does."""
    from vgg.data.cifar10 import load_cifar10

    for name in CLASS_NAMES:
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for file in sorted(os.listdir(SHARED_CIFAR10 / "train" / name))[:per_class]:
            (folder / file).symlink_to(SHARED_CIFAR10 / "train" / name / file)
    return load_cifar10(root, validation_size, seed=0)


# Pictures for the upload tests -------------------------------------------------------------------------------


def encode(image, format="JPEG", **params):
    """The bytes of `image` saved as `format` with Pillow's `params`."""
    buffer = io.BytesIO()
    image.save(buffer, format, **params)
    return buffer.getvalue()


def photo(width, height, seed=0):
    """Smooth blobs of colour, like an out-of-focus photo: large, yet a few MB as a JPEG. Smooth, because sharp
    edges move by a fraction of a pixel between any two ways of shrinking (Pillow's own included)."""
    coarse = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)


def quadrants(width, height):
    """Red top-left, blue top-right, green bottom-left, white bottom-right."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    image.paste((0, 0, 255), (width // 2, 0, width, height // 2))
    image.paste((0, 255, 0), (0, height // 2, width // 2, height))
    return image


def transparent_design(size):
    """Smooth colours, opaque in the middle and fading to fully transparent black at the corners."""
    image = photo(size, size, seed=7).convert("RGBA")
    image.putalpha(ImageOps.invert(Image.radial_gradient("L").resize((size, size))))
    return Image.composite(image, Image.new("RGBA", image.size), image)  # Transparent pixels store black.


def flattened(image):
    """An RGBA picture on white, as the app shows it."""
    return Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("RGB")


# Training -------------------------------------------------------------------------------------------------------


def tiny_config(**changes):
    """A VGG16 at 1/8 width that learns the generated classes in a few seconds on a CPU."""
    config = TrainConfig(
        width=0.125,
        batch_size=32,
        epochs=4,
        learning_rate=0.05,
        warmup_epochs=0.0,
        augment=False,
        validation_size=100,
        jit_compile="off",
        # float32 on every machine: the fixtures' model, which many tests read numbers from, is then the same
        # wherever the suite runs (the presets' own runs train in the machine's precision).
        mixed_precision="off",
        log_every_seconds=0.0,
    )
    return config.replace(**changes)


def quiet(message):
    """A training's progress callback that prints nothing."""


def train_quietly(run, data_dir):
    from vgg.training.trainer import train_run

    return train_run(run, data_dir=data_dir, progress=quiet)


def two_runs(runs_dir):
    """A finished run with one epoch, 'kept', and a created one, 'damaged', for a test to damage."""
    from vgg.runs.folder import create_run
    from vgg.runs.metrics import EpochRow, row_line
    from vgg.runs.status import State

    kept = create_run(runs_dir, tiny_config(), name="kept")
    kept.update_status(state=State.FINISHED, final_accuracy=0.5)
    with open(kept.metrics_path, "w") as file:
        file.write(row_line(EpochRow(10, 1, 2.0, 0.3, 1.9, 0.4, 0.05, 100.0, 5.0)))
    return kept, create_run(runs_dir, tiny_config(), name="damaged")


def subprocess_environment(**extra):
    """This process's environment for a `python` child, with the project importable and `extra` set."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    environment.update({key: str(value) for key, value in extra.items()})
    return environment


def dead_pid():
    """The process id of a process that has ended, as a writer killed mid-save leaves in its temporary's name."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def stop_and_wait(run, process=None):
    """Stops a training run this test started and waits until it no longer counts as active."""
    from vgg.classroom.launch import wait_for
    from vgg.runs.folder import RunError

    with contextlib.suppress(RunError):  # It ended already.
        run.request_stop()
    if process is not None:
        process.wait(timeout=120)
    return wait_for(run, NOT_ACTIVE, 120)


# Pages through AppTest ------------------------------------------------------------------------------------------


def page_test(module, me=None):
    """An AppTest of one page function, outside the router, as a user on that page (named `me`) sees it."""
    from streamlit.testing.v1 import AppTest

    script = f"import vgg\nfrom app_pages import {module}\n{module}.render()\n"
    app = AppTest.from_string(script, default_timeout=120)
    if me:
        app.query_params["me"] = me
    return app


def notices(app):
    """The page's blue notices, without its "Try this" task."""
    return [element.value for element in app.info if not element.value.startswith("**Try this:**")]


def texts(app):
    """Every text the page shows, in one string."""
    kinds = ("title", "markdown", "caption", "info", "warning", "error", "success")
    return " ".join(element.value for kind in kinds for element in getattr(app, kind))


def opened(module, **query):
    """The page `module` opened from an address with `query`, run once."""
    app = page_test(module)
    for name, text in query.items():
        app.query_params[name] = text
    app.run()
    assert not app.exception
    return app


def query(app):
    """The page's address parameters now."""
    return {name: app.query_params[name] for name in app.query_params}


def widget_keys(app, kind):
    return [widget.key for widget in app.get(kind)]


def neighbours_page(model_path):
    """A page of only the nearest-images view, for AppTest.from_function: it runs as a script of its own."""
    import streamlit as st

    from app_pages.caches import load_predictor
    from app_pages.neighbours_view import neighbours_ui
    from vgg.data.cifar10 import default_data_dir, load_cifar10

    predictor = load_predictor(model_path, 0)
    dataset = load_cifar10(default_data_dir(), 100, 0)
    st.caption(f"Page for {len(dataset.y_val)} images")
    neighbours_ui(predictor, dataset.x_val[3], model_path)


def picture_grids(app):
    """The captions of each grid of pictures on the page (app_pages/picture_grid.py draws one as an HTML element)."""
    grids = [element.value for element in app.get("html") if "vgg-grid" in element.value]
    return [
        [html.unescape(caption) for caption in re.findall(r"<figcaption>(.*?)</figcaption>", grid)] for grid in grids
    ]


def counting(monkeypatch, module, name):
    """The calls of `module.name` from now on: it still runs, and each call's arguments are listed."""
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


# Experiments --------------------------------------------------------------------------------------------------

# A whole experiment on the generated images in about ten seconds: the cpu preset at 1/8 width, two epochs.
TINY_EXPERIMENT = """
title = "Tiny learner"
question = "Will a tiny VGG16 learn the generated classes in four epochs?"
preset = "cpu"
[settings]
width = 0.125
epochs = 4
batch_size = 32
learning_rate = 0.05
warmup_epochs = 0.0
augment = false
validation_size = 100
jit_compile = "off"
log_every_seconds = 0.0
[[choices]]
id = "learns"
text = "Yes, above 50% on validation images."
effect = true
[[choices]]
id = "chance"
text = "No, it stays near chance."
effect = false
[check]
rule = "accuracy_above"
value = 0.5
[explain]
effect = "The generated classes are easy patterns: batch norm lets even a tiny VGG16 learn them at once."
no_effect = "It did not learn in four epochs."
"""


def experiment_file(folder, name, text):
    """Writes `text` as the experiment file folder/NAME.toml and returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


# What the user reads --------------------------------------------------------------------------------------------


def assert_one_sentence(message, naming=None):
    """What a user reads: one line that ends as a sentence does (or with the value it was given, after
    "Received:"), naming `naming` if given, with no traceback or bare errno in it."""
    assert message and message.strip() == message and "\n" not in message, repr(message)
    assert message.split(" Received: ")[0].endswith("."), repr(message)
    assert "Traceback" not in message and "[Errno" not in message, repr(message)
    assert naming is None or naming in message, f"{message!r} does not name {naming!r}"


def assert_user_error(error, naming=None):
    """A refusal the app shows as it is: a UserError in one sentence, with no cause that would print a traceback."""
    from vgg.core.errors import UserError

    assert isinstance(error, UserError), repr(error)
    assert_one_sentence(str(error), naming)
    assert error.__cause__ is None, "the cause would print as a traceback"
    assert error.__context__ is None or error.__suppress_context__, "so would the error it replaced"


def assert_upload_refusal(error, filename):
    """An upload's refusal: a user error naming `filename`, and stricter than other messages, which may add a
    clause or name an exception's type: a single sentence that names neither Python nor Pillow."""
    message = str(error)
    assert isinstance(error, ValueError), repr(error)
    assert_user_error(error, filename)
    assert ". " not in message and message.endswith("."), message
    assert "Error" not in message and "PIL" not in message, message


def upload_refusal(data, filename):
    """The one sentence a student reads when the upload `data` named `filename` is refused."""
    import pytest

    from vgg.data.uploads import ImageError, load_upload

    with pytest.raises(ImageError) as caught:
        load_upload(data, filename)
    assert_upload_refusal(caught.value, filename)
    return str(caught.value)
