"""Runs called alike on the Train page: each keeps its own name in the pickers, so the run a person opened stays the
one shown (Streamlit hands a picker back the last of equal labels)."""

import pytest

from app_pages.plain import plain
from helpers import PROJECT_ROOT, page_test, tiny_config
from vgg.runs.folder import create_run
from vgg.runs.record import model_names


def test_a_run_called_like_another_stays_shown_when_the_page_reruns(tmp_path, monkeypatch, image_folder):
    first = create_run(tmp_path, tiny_config(epochs=400), name="first")
    second = create_run(tmp_path, tiny_config(epochs=3), name="second")  # Alike in words, started the same minute.
    # Its settings written again (a cluster relay after a server restart did): now the newest, listed first.
    first.config_path.write_bytes(first.config_path.read_bytes())
    for run in (first, second):
        run.model_path.write_bytes(b"")  # Each in the model pickers too.
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    app = page_test("train_page")
    app.query_params["run"] = "first"
    app.run()
    app.run()  # Any click on the page reruns it.
    assert not app.exception
    chooser = app.selectbox(key="show_run_first")
    assert chooser.value == "first"
    assert chooser.options[1] == chooser.options[0] + " (2)"  # The one started later, numbered.
    models = model_names(tmp_path)
    assert models["Run second (final)"] == models["Run first (final)"].replace(" (final)", " (2) (final)")


@pytest.fixture
def twins(tmp_path, monkeypatch, image_folder):
    """Two runs alike in words, started the same minute, in the pages' runs folder."""
    for name in ("first", "second"):
        create_run(tmp_path, tiny_config(epochs=3), name=name)
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)


def test_the_run_board_and_its_pins_tell_runs_called_alike_apart(twins):
    app = page_test("board_page").run()
    assert not app.exception
    names = list(app.dataframe[0].value["name"])
    assert len(names) == 2 and len(set(names)) == 2, names
    pins = app.multiselect(key="board_pins")
    assert len(set(pins.options)) == 2, pins.options


def test_the_state_line_names_the_run_shown_as_its_picker_does(twins):
    app = page_test("train_page")
    app.query_params["run"] = "second"
    app.run()
    assert not app.exception
    shown = app.selectbox(key="show_run_second")
    label = shown.options[shown.index]
    assert label.endswith(" (2)"), label
    line = f"**{plain(label)}** is"  # As the page writes any run's name: Markdown's signs taken literally.
    assert any(line in block.value for block in app.markdown), (line, [block.value for block in app.markdown])
