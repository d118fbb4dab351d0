"""A shipped model's card: `<stem>.json` beside its `.keras` file in assets/, written by the export
(vgg/training/export.py) and read by ModelRecord, the Epoch slider and the model card's text. One schema:
the fields every card has, then those only a full export writes, then those of a model shipped with snapshots."""

import contextlib
import dataclasses
import pathlib

from vgg.core.config import SettingError, TrainConfig
from vgg.core.files import read_json, write_json


@dataclasses.dataclass(frozen=True)
class Card:
    model_file: str
    run: str
    config: TrainConfig
    class_names: tuple
    epochs: int  # Whole epochs the shipped weights trained (not counting the models they grew from).
    wall_time_seconds: float | None
    val_accuracy: float | None  # As Predict scores it.
    validation_size: int
    command: str  # The `python -m vgg train` command that trains it again.
    started_from: dict | None = None  # The model it grew from, with that model's own record.
    unsure_below: float | None = None  # The top probability below which Predict calls an answer unsure.
    # A full export's (`python -m vgg export`): the figures MODEL_CARD.md reports.
    params: int | None = None
    weights: str | None = None  # "float16" or "float32", as stored in the file.
    conv_layers: int | None = None
    data: str | None = None
    data_dir: str | None = None
    train_images: int | None = None
    device: str | None = None
    val_accuracy_single_view: float | None = None
    flip_average: bool | None = None
    per_class_accuracy: list | None = None
    confusion_matrix: list | None = None
    exported: str | None = None  # The export's date.
    # A model shipped with its snapshots (the Epoch slider's): the epochs kept and each epoch's logged accuracy.
    snapshot_epochs: list | None = None
    epoch_val_accuracy: dict | None = None

    @classmethod
    def read(cls, model_path):
        """The card of the model file `model_path`, or None when it has none or it is damaged."""
        values = read_json(pathlib.Path(model_path).with_suffix(".json"))
        if not isinstance(values, dict):
            return None
        fields = {field.name for field in dataclasses.fields(cls)}
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError, SettingError):
            values = {name: value for name, value in values.items() if name in fields}
            accuracies = values.get("epoch_val_accuracy")
            if accuracies is not None:
                values["epoch_val_accuracy"] = {int(epoch): float(value) for epoch, value in accuracies.items()}
            return cls(
                **values
                | {"config": TrainConfig.from_dict(values["config"]), "class_names": tuple(values["class_names"])}
            )
        return None

    def as_json(self):
        """The card as its file holds it: fields a card of its kind does not have are left out."""
        values = dataclasses.asdict(self) | {
            "config": dataclasses.asdict(self.config),
            "class_names": list(self.class_names),
        }
        required = {field.name for field in dataclasses.fields(self) if field.default is dataclasses.MISSING}
        return {name: value for name, value in values.items() if name in required or value is not None}

    def write(self, model_path, what):
        write_json(pathlib.Path(model_path).with_suffix(".json"), self.as_json(), what)
