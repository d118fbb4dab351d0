"""Ships a finished run as the app's default model: assets/vgg16_cifar10.keras with its model card."""

import contextlib
import datetime
import io
import json
import pathlib
import shutil
import zipfile

import h5py
import numpy as np

from vgg.core.config import VARIANTS
from vgg.core.files import replacing
from vgg.core.paths import ASSETS_DIR
from vgg.data import cifar10 as data_module
from vgg.explain.predictor import ModelError, evaluate, load_model
from vgg.model.build import conv_layers, describe
from vgg.runs.card import Card
from vgg.runs.folder import RunError
from vgg.runs.record import SHIPPED_MODEL, ModelRecord, ancestors, reproduce_command
from vgg.runs.snapshots import epochs_of, logged_accuracies, snapshots_dir, weights_at, write_weights
from vgg.runs.status import State

CARD_DATA = ASSETS_DIR / "vgg16_cifar10.json"
CARD = ASSETS_DIR / "MODEL_CARD.md"
TARGET_ACCURACY = 0.92  # What the project aims its shipped model at; the best published VGG16 reach 93.5-94%.
MAX_SHIPPED_BYTES = 20_000_000  # The shipped file's limit (20 MB), so that a clone of the project stays light.


def _copy_as_float16(source, target):
    """Copies an HDF5 group into `target` with every float32 array stored as float16."""
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for key, item in source.items():
        if isinstance(item, h5py.Group):
            _copy_as_float16(item, target.create_group(key))
        elif item.dtype != np.float32:
            source.copy(item, target, name=key)
        else:
            values = item[()]
            if not np.all(np.isfinite(values)):
                raise RunError(
                    f"Weight {item.name} is not a finite number (the training diverged), so the model cannot ship."
                )
            halved = values.astype(np.float16)
            if not np.all(np.isfinite(halved)):
                raise RunError(
                    f"Weight {item.name} exceeds float16's range, so the model cannot ship with float16 weights."
                )
            copied = target.create_dataset(key, data=halved)
            for attribute, value in item.attrs.items():
                copied.attrs[attribute] = value


def write_float16_model(model_path, target):
    """Writes the .keras file at `model_path` to `target` with float16 weights, compressed. Keras
    casts them back to the model's float32 variables on loading, so it computes as before on any CPU."""
    try:
        with zipfile.ZipFile(model_path) as source:
            # A fresh HDF5 file, since HDF5 never gives back the space of a dataset replaced in place.
            weights = io.BytesIO()
            with (
                h5py.File(io.BytesIO(source.read("model.weights.h5")), "r") as original,
                h5py.File(weights, "w") as halved,
            ):
                _copy_as_float16(original, halved)
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as packed:
                for member in source.infolist():
                    is_weights = member.filename == "model.weights.h5"
                    packed.writestr(member.filename, weights.getvalue() if is_weights else source.read(member))
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelError(f"{model_path.name} is not a readable Keras model ({type(error).__name__}).") from None


def ship_model_file(run, target, max_shipped_bytes):
    """Writes the run's model to `target`: as trained when it fits `max_shipped_bytes`, otherwise with its
    weights rounded to float16 and compressed. Returns how the weights are stored."""
    if run.model_path.stat().st_size <= max_shipped_bytes:
        shutil.copyfile(run.model_path, target)
        return "float32"
    write_float16_model(run.model_path, target)
    if target.stat().st_size > max_shipped_bytes:
        raise RunError(
            f"Run {run.name!r}'s model does not fit {max_shipped_bytes:,} bytes even with float16 weights; "
            f"ship a narrower one. Received: {target.stat().st_size:,} bytes."
        )
    return "float16"


def export_run(run, data_dir, assets_dir=ASSETS_DIR, max_shipped_bytes=MAX_SHIPPED_BYTES):
    """Writes the run's final model into assets/ (float16 weights when float32 would not fit
    `max_shipped_bytes`), scores that file on the run's validation split, and writes the card's numbers
    (JSON) and the card (Markdown) beside it. Returns the card's numbers."""
    assets_dir = pathlib.Path(assets_dir)
    status = run.status()
    if status.state != State.FINISHED or not run.model_path.exists():
        raise RunError(f"Run {run.name!r} has not finished; only a finished run's model can ship.")
    config = run.config()
    epochs = run.metrics().epochs
    if not epochs:
        raise RunError(f"Run {run.name!r} has no epoch in its metrics; only a run with a training record can ship.")
    if not config.validation_size:
        raise RunError(f"Run {run.name!r} held out no validation images, so its accuracy cannot be stated on a card.")
    # Scored on the data the run trained from, so the held-out split is the run's own.
    data_dir = data_dir or status.data_dir
    assets_dir.mkdir(exist_ok=True)
    # All three files are written aside and renamed in together at the end, so a failed export leaves the
    # shipped model and its card as they were, and never a new model beside an old card.
    with contextlib.ExitStack() as stack:
        model_file, card_file, card_text = (
            stack.enter_context(replacing(assets_dir / target.name, f"assets/{target.name}"))
            for target in (SHIPPED_MODEL, CARD_DATA, CARD)
        )
        weights = ship_model_file(run, model_file, max_shipped_bytes)
        # The card scores the file that ships, so rounding to float16 shows in its numbers.
        model = load_model(model_file, assets_dir)
        dataset = data_module.load_cifar10(data_dir, validation_size=config.validation_size, seed=config.seed)
        result = evaluate(model, dataset.x_val, dataset.y_val, flip_average=config.augment)
        card = Card(
            model_file=SHIPPED_MODEL.name,
            run=run.name,
            config=config,
            class_names=tuple(dataset.class_names),
            epochs=len(epochs),
            wall_time_seconds=round(epochs[-1].elapsed, 1),
            val_accuracy=result["accuracy"],
            validation_size=int(len(dataset.y_val)),
            command=reproduce_command(config, status.preset, data_dir, status.started_from),
            started_from=status.started_from,
            unsure_below=result["unsure_below"],
            params=describe(model)["params"],
            weights=weights,
            conv_layers=len(conv_layers(model)),
            data=dataset.source,
            data_dir=str(data_dir) if data_dir else None,
            train_images=int(len(dataset.y_train)),
            device=status.device,
            val_accuracy_single_view=result["single_view_accuracy"],
            flip_average=result["flip_average"],
            per_class_accuracy=result["per_class_accuracy"],
            confusion_matrix=result["confusion_matrix"],
            exported=datetime.date.today().isoformat(),
        ).as_json()
        card_file.write_text(json.dumps(card, indent=2) + "\n")
        card_text.write_text(card_markdown(card))
    return card


def hardest_pair(card):
    """The two classes most often taken for each other: (class, other, class taken for other, other taken for class)."""
    matrix, names = card["confusion_matrix"], card["class_names"]
    pairs = [(first, second) for first in range(len(names)) for second in range(first + 1, len(names))]
    first, second = max(pairs, key=lambda pair: matrix[pair[0]][pair[1]] + matrix[pair[1]][pair[0]])
    return names[first], names[second], matrix[first][second], matrix[second][first]


def limits_markdown(card):
    """The card's Limits section, from its numbers, so a new export never keeps a stale one."""
    config, accuracy = card["config"], card["val_accuracy"]
    if accuracy < TARGET_ACCURACY:
        standing = (
            f"{accuracy:.1%} is below the {TARGET_ACCURACY:.0%} this project aims for. Published VGG16 results "
            f"on CIFAR-10 (93.5-94%) use the full width and about 200 epochs; this model had {card['epochs']} "
            f"epochs at width {config['width']} on {card['device']}."
        )
    else:
        standing = (
            f"{accuracy:.1%} meets the {TARGET_ACCURACY:.0%} this project aims for; the best published VGG16 "
            "results on CIFAR-10 are 93.5-94%."
        )
    first, second, first_as_second, second_as_first = hardest_pair(card)
    per_class = card["validation_size"] // len(card["class_names"])
    if first_as_second + second_as_first:
        confusion = (
            f"{first.capitalize()} and {second} are the hardest pair: "
            f"{first_as_second} of {per_class:,} {first} "
            f"images were called {second} and {second_as_first} of {per_class:,} {second} images {first}."
        )
    else:
        confusion = "No validation image was taken for another class."
    bullets = [
        standing,
        confusion,
        "It knows only the ten CIFAR-10 classes and 32x32 inputs: any uploaded photo is shrunk to 32x32 and given "
        "one of the ten names, however unlike them it is.",
    ]
    if card.get("unsure_below") is not None:
        bullets.append(
            f"95% of the validation images get a top probability above {card['unsure_below']:.0%}, and the "
            "app calls an answer below that unsure; above it is no proof, since an image of none of the ten "
            "classes can score as high."
        )
    if card["data"].startswith("local folder"):
        bullets.append(
            "The validation images are JPEG re-encodings of CIFAR-10; on the original pixels accuracy can "
            "differ by about a point."
        )
    return "## Limits\n\n" + "\n".join(f"- {bullet}" for bullet in bullets) + "\n"


def lineage_markdown(card):
    """How the card tells where the model came from: (opening sentence, epochs, wall time, the command
    to run before the card's own, or "")."""
    hours = card["wall_time_seconds"] / 3600
    this_run_time = f"{card['wall_time_seconds']:,.0f} s ({hours:.1f} h), including validation after each epoch"
    origin, epochs, wall_time, first_command = (
        "trained from scratch on CIFAR-10 by this project's own trainer.",
        card["epochs"],
        this_run_time,
        "",
    )
    started_from = card.get("started_from")
    chain = ancestors(started_from)
    if chain:
        source = started_from["run"]
        summary = (
            f"run `{source}` (width {started_from['width']}, {started_from['epochs']} epochs, "
            f"{started_from['val_accuracy']:.1%})"
        )
        if started_from["width"] == card["config"]["width"]:
            origin = f"started from the trained model of {summary}"
        else:
            origin = (
                f"grown from the trained model of {summary}: each added channel copies one of its channels, "
                "with the next layer's weights split between the copies (Net2WiderNet), so it started out "
                f"computing what `{source}` had learned"
            )
        origin += f", then trained {card['epochs']} more epochs on CIFAR-10 by this project's own trainer."
        epochs = f"{card['epochs']}, after " + " and ".join(
            f"the {ancestor['epochs']} of `{ancestor['run']}`" for ancestor in chain
        )
        earlier_seconds = sum(ancestor["wall_time_seconds"] for ancestor in chain)
        wall_time = (
            f"{this_run_time}; with the {earlier_seconds:,.0f} s of the "
            f"{'run' if len(chain) == 1 else 'runs'} it grew from, "
            f"{(card['wall_time_seconds'] + earlier_seconds) / 3600:.1f} h in all"
        )
        # Oldest first: each command leaves the model the next one starts from.
        first_command = "".join(f"{ancestor['command']} --name {ancestor['run']}\n" for ancestor in reversed(chain))
    elif started_from:
        origin = (
            f"trained on CIFAR-10 by this project's own trainer, starting from the weights of "
            f"`{started_from['file']}` (SHA-256 `{started_from['sha256'][:16]}…`)."
        )
    first_averaged = card["config"].get("average_from_epoch")
    if first_averaged:
        origin += (
            f" Its weights are the average of its weights at the ends of epochs {first_averaged} to "
            f"{card['epochs']} (stochastic weight averaging), with batch-norm statistics recomputed over the "
            "training images."
        )
    return origin, epochs, wall_time, first_command


def accuracy_markdown(card):
    """The card's accuracy line and its sentence on where the validation images came from."""
    if card["flip_average"]:
        accuracy = (
            f"**{card['val_accuracy']:.2%}** on {card['validation_size']:,} validation images, "
            "each averaged with its mirror image as the app predicts (the VGG paper's evaluation); "
            f"{card['val_accuracy_single_view']:.2%} on the images alone"
        )
    else:
        accuracy = f"**{card['val_accuracy']:.2%}** on {card['validation_size']:,} validation images"
    if "held out" in card["data"]:
        split = (
            "The validation split is the project's fixed one: "
            f"{card['validation_size'] // len(card['class_names']):,} "
            f"images of each class held out of the training images with seed {card['config']['seed']} "
            "(`vgg.data.cifar10.balanced_split`). The official CIFAR-10 test split was not used for training "
            "or for choosing anything."
        )
    else:
        split = f"The validation images are the data's own test split: {card['data']}."
    return accuracy, split


def card_markdown(card):
    config = card["config"]
    per_class = "\n".join(
        f"| {name} | {accuracy:.1%} |"
        for name, accuracy in zip(card["class_names"], card["per_class_accuracy"], strict=False)
    )
    accuracy, split = accuracy_markdown(card)
    evaluate_command = "python -m vgg evaluate" + (f" --data-dir {card['data_dir']}" if card.get("data_dir") else "")
    settings = "\n".join(f"| `{key}` | `{value}` |" for key, value in config.items())
    normalization = "with batch normalization" if config["batch_norm"] else "without batch normalization"
    if card.get("weights") == "float16":
        weights_description = "float16 weights (rounded after training; loaded into float32 for computing)"
    else:
        weights_description = "float32 weights"
    origin, epochs, wall_time, first_command = lineage_markdown(card)
    variant = config["variant"]
    return f"""# Model card: {card["model_file"]}

{VARIANTS[variant]} (configuration {variant} of Simonyan & Zisserman: {card["conv_layers"]} 3x3 conv layers in
five blocks, 2x2 max pooling after each) at width {config["width"]} {normalization}, {origin}
It is the model the app and `python -m vgg` use when no other is chosen.

| | |
| --- | --- |
| validation accuracy | {accuracy} |
| parameters | {card["params"]:,} |
| data | {card["data"]} |
| training images | {card["train_images"]:,} |
| epochs | {epochs} |
| training wall time | {wall_time} |
| device | {card["device"]} |
| run | `{card["run"]}` |
| file | {weights_description}, Keras 3 `.keras` format, loaded with safe mode on |

## Per-class validation accuracy (as the app predicts)

| class | accuracy |
| --- | --- |
{per_class}

## Reproduce

```bash
{first_command}{card["command"]}
{evaluate_command}   # the shipped model on the same validation split
```

{split}

## Exact configuration

| setting | value |
| --- | --- |
{settings}

{limits_markdown(card)}"""


def ship_snapshots(run, assets_dir, stem):
    """Copies a finished run's final model (float16 weights, as `export_run` ships), its snapshots but the
    last (the model file is that epoch) and a card (the JSON vgg/runs/record.py reads) into `assets_dir` as
    `<stem>.keras`, `<stem>.snapshots/` and `<stem>.json`; returns the model's path there."""
    assets_dir = pathlib.Path(assets_dir)
    record = ModelRecord.of(run.model_path)
    if not run.model_path.exists() or record.config is None:
        raise RunError(f"Run {run.name!r} has no final model to ship.")
    target = assets_dir / f"{stem}.keras"
    folder = snapshots_dir(target)
    folder.mkdir(parents=True, exist_ok=True)
    for epoch in epochs_of(run.model_path)[:-1]:
        write_weights(weights_at(run.model_path, epoch), folder, epoch)
    with replacing(target, f"assets/{target.name}") as temporary:
        write_float16_model(run.model_path, temporary)
    card = Card(
        target.name,
        run.name,
        record.config,
        record.class_names,
        record.epochs,
        record.wall_time_seconds,
        record.val_accuracy,
        record.config.validation_size,
        record.command,
        record.started_from,
        record.unsure_below,
        snapshot_epochs=epochs_of(target),
        epoch_val_accuracy=logged_accuracies(run.model_path),
    )
    card.write(target, f"assets/{target.stem}.json")
    return target
