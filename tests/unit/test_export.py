"""Shipping a finished run: the model file, its card, and a card command that rebuilds the same settings."""

import pytest

from helpers import tiny_config
from vgg.runs.folder import RunError, create_run


def test_the_cards_limits_name_the_most_confused_pair_and_the_gap_to_the_target():
    from vgg.training.export import hardest_pair, limits_markdown

    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    matrix = [[50 if row == column else 0 for column in range(10)] for row in range(10)]
    matrix[3][5], matrix[5][3], matrix[0][8] = 7, 9, 15  # cat/dog 16 in all, airplane/ship 15.
    card = {
        "config": {"width": 0.5},
        "val_accuracy": 0.903,
        "epochs": 70,
        "device": "CPU",
        "validation_size": 500,
        "class_names": names,
        "confusion_matrix": matrix,
        "data": "local folder ../shared/cifar10",
    }
    assert hardest_pair(card) == ("cat", "dog", 7, 9)
    limits = limits_markdown(card)
    assert "90.3% is below the 92%" in limits and "7 of 50 cat images were called dog" in limits
    assert "JPEG" in limits
    card.update(val_accuracy=0.93, data="Keras' download")
    assert "meets the 92%" in limits_markdown(card) and "JPEG" not in limits_markdown(card)
    card["confusion_matrix"] = [[50 if row == column else 0 for column in range(10)] for row in range(10)]
    assert "No validation image was taken for another class." in limits_markdown(card)
    assert "hardest pair" not in limits_markdown(card)


def test_a_card_names_a_starting_file_with_no_record_by_its_name_and_hash():
    from vgg.training.export import lineage_markdown

    # A start file with no card beside it and no run folder: the card can only say which file it was.
    card = {
        "wall_time_seconds": 7200.0,
        "epochs": 24,
        "config": {"width": 0.75},
        "started_from": {"file": "teacher.keras", "sha256": "0123456789abcdef" + "0" * 48},
    }
    origin, epochs, wall_time, first_command = lineage_markdown(card)
    assert origin == (
        "trained on CIFAR-10 by this project's own trainer, starting from the weights of "
        "`teacher.keras` (SHA-256 `0123456789abcdef…`)."
    )
    assert epochs == 24 and wall_time.startswith("7,200 s (2.0 h)") and first_command == ""


def test_a_card_says_when_its_weights_are_an_average_of_epochs():
    from vgg.training.export import lineage_markdown

    card = {"wall_time_seconds": 3600.0, "epochs": 36, "config": {"width": 0.5, "average_from_epoch": 1}}
    origin = lineage_markdown(card)[0]
    assert origin.startswith("trained from scratch")
    assert "average of its weights at the ends of epochs 1 to 36" in origin
    card["config"]["average_from_epoch"] = 0
    assert "average" not in lineage_markdown(card)[0]


def test_an_unfinished_run_cannot_ship(tmp_path, image_folder):
    from vgg.training.export import export_run

    run = create_run(tmp_path / "runs", tiny_config(), name="not-trained")
    with pytest.raises(RunError, match="has not finished"):
        export_run(run, image_folder, assets_dir=tmp_path / "assets")
    assert not (tmp_path / "assets").exists()
