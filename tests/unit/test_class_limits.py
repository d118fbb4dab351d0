"""A class's limits hold students: runs per student and the estimated cost are refused in one sentence, the
teacher is not held to them."""

import pytest

from helpers import assert_one_sentence, tiny_config
from vgg.classroom.launch import launch
from vgg.classroom.policy import ClassLimits, ClassroomError
from vgg.runs.folder import open_run
from vgg.runs.status import State


def test_per_student_limits_refuse_in_one_sentence(busy_slot, image_folder, monkeypatch):
    limits = ClassLimits(runs_per_student=1, max_estimated_minutes=15, max_training_minutes=20)
    launch(busy_slot, "adas-1", config=tiny_config(), data_dir=image_folder, owner="Ada", limits=limits, student=True)
    with pytest.raises(ClassroomError, match="allows 1") as second:
        launch(
            busy_slot, "adas-2", config=tiny_config(), data_dir=image_folder, owner="Ada", limits=limits, student=True
        )
    assert_one_sentence(str(second.value))
    assert not (busy_slot / "adas-2").exists()
    launch(busy_slot, "bens", config=tiny_config(), data_dir=image_folder, owner="Ben", limits=limits, student=True)

    big = tiny_config().replace(width=1.0, epochs=500, train_subset=0)
    with pytest.raises(ClassroomError, match=r"about [\d,]+ min here .* limit is 15 min") as costly:
        launch(busy_slot, "cys", config=big, data_dir=image_folder, owner="Cy", limits=limits, student=True)
    assert_one_sentence(str(costly.value))
    # The teacher (and the CLI) are not held to a student's limits.
    teachers, _ = launch(busy_slot, "teachers", config=big, data_dir=image_folder, owner="T", limits=limits)
    assert teachers.status().state == State.QUEUED and teachers.status().time_limit_minutes is None
    assert open_run(busy_slot, "bens").status().time_limit_minutes == 20
