"""Ships a finished run as the app's default model: assets/vgg16_cifar10.keras with its model card."""

import datetime
import json
import shutil

from vgg import data as data_module
from vgg.inference import ASSETS_DIR, SHIPPED_MODEL, evaluate, load_model
from vgg.model import describe
from vgg.runs import RunError

CARD_DATA = ASSETS_DIR / "vgg16_cifar10.json"
CARD = ASSETS_DIR / "MODEL_CARD.md"


def export_run(run, data_dir):
    """Evaluates the run's final model on its validation split and writes the model, the card's
    numbers (JSON) and the card (Markdown) into assets/. Returns the card's numbers."""
    if run.status().get("state") != "finished" or not run.model_path.exists():
        raise RunError(f"Run {run.name!r} has not finished; only a finished run's model can ship.")
    config = run.config()
    model = load_model(run.model_path, run.path.parent)
    dataset = data_module.load_cifar10(data_dir, validation_size=config.validation_size, seed=config.seed)
    result = evaluate(model, dataset.x_val, dataset.y_val)
    epochs = [row for row in run.metrics() if row.get("kind") == "epoch"]
    status = run.status()
    card = {
        "model_file": SHIPPED_MODEL.name,
        "run": run.name,
        "config": json.loads(config.to_json()),
        "params": describe(model)["params"],
        "data": dataset.source,
        "train_images": int(len(dataset.y_train)),
        "validation_size": int(len(dataset.y_val)),
        "epochs": len(epochs),
        "wall_time_seconds": round(epochs[-1]["elapsed"], 1) if epochs else None,
        "device": status.get("device"),
        "val_accuracy": result["accuracy"],
        "per_class_accuracy": result["per_class_accuracy"],
        "confusion_matrix": result["confusion_matrix"],
        "class_names": list(dataset.class_names),
        "exported": datetime.date.today().isoformat(),
        "command": f"python -m vgg train --preset {status.get('preset') or 'half'} --data-dir ../shared/cifar10",
    }
    ASSETS_DIR.mkdir(exist_ok=True)
    shutil.copyfile(run.model_path, SHIPPED_MODEL)
    CARD_DATA.write_text(json.dumps(card, indent=2) + "\n")
    CARD.write_text(card_markdown(card))
    return card


def card_markdown(card):
    config = card["config"]
    hours = card["wall_time_seconds"] / 3600 if card["wall_time_seconds"] else float("nan")
    per_class = "\n".join(
        f"| {name} | {accuracy:.1%} |" for name, accuracy in zip(card["class_names"], card["per_class_accuracy"])
    )
    settings = "\n".join(f"| `{key}` | `{value}` |" for key, value in config.items())
    return f"""# Model card: {card['model_file']}

VGG16 (configuration D of Simonyan & Zisserman: thirteen 3x3 conv layers in five blocks, 2x2 max
pooling after each) at width {config['width']} with batch normalization, trained from scratch on
CIFAR-10 by this project's own trainer. It is the model the app and `python -m vgg` use when no
other is chosen.

| | |
| --- | --- |
| validation accuracy | **{card['val_accuracy']:.2%}** on {card['validation_size']:,} held-out images |
| parameters | {card['params']:,} |
| data | {card['data']} |
| training images | {card['train_images']:,} |
| epochs | {card['epochs']} |
| training wall time | {card['wall_time_seconds']:,.0f} s ({hours:.1f} h), including validation after each epoch |
| device | {card['device']} |
| run | `{card['run']}` |
| file | float32 weights, Keras 3 `.keras` format, loaded with safe mode on |

## Per-class validation accuracy

| class | accuracy |
| --- | --- |
{per_class}

## Reproduce

```bash
{card['command']}
python -m vgg evaluate --data-dir ../shared/cifar10   # the shipped model on the same validation split
```

The validation split is the project's fixed one: 500 images of each class held out of
`../shared/cifar10/train` with seed {config['seed']} (`vgg.data.balanced_split`). The official
CIFAR-10 test split was not used for training or for choosing anything.

## Exact configuration

| setting | value |
| --- | --- |
{settings}
"""
