"""The "Try this" tasks file as the teacher's editor rewrites it (vgg/classroom/tasks.py): any text a browser
sends is saved as valid TOML or refused in one sentence, the teacher's comments and other tables stay, a broken
file is started afresh with its text kept, and two tabs saving at once lose neither edit."""

import threading
import tomllib

import pytest

from helpers import assert_one_sentence
from vgg.classroom.tasks import BROKEN_COPY, TaskError, save_try_this, try_this, try_this_tasks

HAND_WRITTEN = """# Tasks for the Tuesday class: keep them short.
[pages]
# The first page they see.
"Data" = "Find two classes that look alike."
"Train" = "Start the cpu preset."   # ten minutes

[notes]
author = "Ms Rivera"
"""


def test_every_character_toml_forbids_raw_is_saved_escaped(tmp_path):
    """TOML forbids DEL and the C0 controls raw in a string; JSON's escapes leave DEL raw."""
    folder = tmp_path
    text = "look\x7fhere\x00 \x01\x08 \\ \" 'quoted' \N{RIGHT-TO-LEFT OVERRIDE} end"
    save_try_this("Data", text, folder)
    tomllib.loads((folder / "try-this.toml").read_text(encoding="utf-8"))
    assert try_this("Data", folder) == " ".join(text.split())


def test_a_task_that_cannot_be_written_is_refused_in_one_sentence(tmp_path):
    save_try_this("Data", "kept", tmp_path)
    with pytest.raises(TaskError) as raised:
        save_try_this("Train", "half a pair \ud800 of surrogates", tmp_path)
    assert_one_sentence(str(raised.value))
    assert try_this_tasks(tmp_path) == {"Data": "kept"}


def test_saving_keeps_the_teachers_comments_and_other_tables(tmp_path):
    (tmp_path / "try-this.toml").write_text(HAND_WRITTEN)
    save_try_this("Train", "Start the blog preset.", tmp_path)
    save_try_this("Predict", "Upload a photo of your pet.", tmp_path)
    save_try_this("Data", "", tmp_path)
    text = (tmp_path / "try-this.toml").read_text()
    for kept in ("# Tasks for the Tuesday class: keep them short.", "# The first page they see.", "[notes]"):
        assert kept in text
    assert tomllib.loads(text)["notes"] == {"author": "Ms Rivera"}
    assert try_this_tasks(tmp_path) == {"Train": "Start the blog preset.", "Predict": "Upload a photo of your pet."}


def test_a_broken_file_is_started_afresh_and_its_text_kept(tmp_path):
    broken = '[pages]\n"Data" = "no closing quote\n'
    (tmp_path / "try-this.toml").write_text(broken)
    with pytest.raises(TaskError):
        try_this("Data", tmp_path)
    save_try_this("Train", "Start the cpu preset.", tmp_path)
    assert try_this_tasks(tmp_path) == {"Train": "Start the cpu preset."}
    assert (tmp_path / BROKEN_COPY).read_text() == broken


def test_two_tabs_saving_at_once_lose_neither_edit(tmp_path):
    """Each save reads the file, changes one line and writes it back: without a lock one tab's write undoes the
    other's."""
    save_try_this("Data", "first", tmp_path)

    def save_many(prefix):
        for number in range(15):
            save_try_this(f"{prefix} {number}", f"task {number}", tmp_path)

    tabs = [threading.Thread(target=save_many, args=(prefix,)) for prefix in ("Ada's", "Ben's")]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    assert len(try_this_tasks(tmp_path)) == 1 + 2 * 15
