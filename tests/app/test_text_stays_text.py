"""Text from people and links is drawn as that text on every page: a run's title and owner, a "Try this" task and
a link's values full of Markdown, HTML, LaTeX and Streamlit's directives become no heading, link, image, formula,
colour or icon (app_pages/plain.py), in Streamlit's elements and in Plotly's legends."""

import re

import pytest
from streamlit.testing.v1 import AppTest

import vgg.runs.record
from helpers import PASSWORD, TINY_EXPERIMENT, assert_one_sentence, experiment_file, page_test
from vgg.core.config import PRESETS
from vgg.runs.folder import create_run
from vgg.runs.status import State

# Each carries a marker (Zq1...) to find where it is drawn, and one of each kind of markup a page could draw.
TITLE = "Zq1 # Lesson over [log in](http://x.example) <b>bold</b> $\\rule{9em}{9em}$ :red[red] ![p](x.png)"
OWNER = "Zq2\n\n# Lesson over, close this tab :material/home: *hi* www.x.example ada@x.example"
TASK = "Zq3 [x](http://x.example) $x^2$ <img src=x> :smile: `code`"
LINK = "Zq4 **Teacher**: [new lesson](http://x.example) <a href='http://x.example'>here</a>"
# What markup in them looks like once drawn; none may remain outside a backslash escape or a word joiner.
MARKUP = (
    "](",
    "<b>",
    "<img",
    "<a ",
    "$\\rule",
    "$x^2$",
    ":red[",
    "![",
    ":material/home",
    ":smile:",
    "*hi*",
    "`code`",
    "**Teacher**",
    "http://",
    "www.x",
    "ada@",
)
MARKDOWN_ELEMENTS = {
    "Markdown",
    "Caption",
    "Title",
    "Header",
    "Subheader",
    "Error",
    "Info",
    "Warning",
    "Success",
    "Toast",
    "Metric",
}
PLAIN_WIDGETS = {"Selectbox", "Multiselect", "TextInput", "TextArea", "Code", "Text"}  # Streamlit draws these as-is.


def drawn_markdown(node):
    """Every string `node` and its children hand to Streamlit's Markdown: element texts, labels, help, radio
    options, image captions, expander, popover and tab labels."""
    name = type(node).__name__
    found = []
    if name in MARKDOWN_ELEMENTS:
        found += [getattr(node, "value", None), getattr(node, "label", None)]
    if name not in PLAIN_WIDGETS:
        found += [getattr(node, "label", None), getattr(node, "help", None)]
    if name == "Radio":
        found += list(node.options)
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "imgs"):
        found += [image.caption for image in proto.imgs]
    kind = proto.WhichOneof("type") if type(proto).__name__ == "Block" else None
    if kind in ("expandable", "popover"):
        found.append(getattr(proto, kind).label)
    for child in getattr(node, "children", {}).values():
        found += drawn_markdown(child)
    return [text for text in found if isinstance(text, str) and text]


def plotly_texts(app):
    """The legend names, hover templates and axis labels of the page's Plotly charts, as JSON."""
    return [element.proto.spec for element in app.get("plotly_chart")]


def assert_drawn_as_text(app, *markers):
    """Each marker is drawn somewhere on the page, and no markup around any marker is left unescaped."""
    assert not app.exception, app.exception
    texts = drawn_markdown(app._tree)
    for marker in markers:
        shown = [text for text in texts if marker in text]
        assert shown, f"{marker} is not drawn in any Markdown of the page"
        for text in shown:
            unescaped = re.sub(r"\\.", "", text)
            assert not [markup for markup in MARKUP if markup in unescaped], text
            assert not re.search(r"(?m)^\s*#+ Lesson", unescaped), text  # A heading starts a line.
    for spec in plotly_texts(app):
        assert "<b>" not in spec and "<a " not in spec, spec


@pytest.fixture
def hostile_class(class_environment, tmp_path_factory, monkeypatch):
    """A class with a finished and a queued run whose titles and owners are hostile, and a hostile task; no model,
    so that the model pages stop before loading one."""
    runs = class_environment
    for name, state, title in (("done", State.FINISHED, TITLE), ("waiting", State.QUEUED, TITLE.replace("1", "5"))):
        run = create_run(runs, PRESETS["cpu"], name=name, preset="cpu", title=title, owner=OWNER)
        run.update_status(state=state, queued_at=1.0 if state == State.QUEUED else None)
        run.metrics_path.write_text(
            '{"kind": "epoch", "step": 10, "epoch": 1, "loss": 1.0, "accuracy": 0.5, "learning_rate": 0.1, '
            '"images_per_second": 100.0, "elapsed": 120.0, "val_loss": 1.2, "val_accuracy": 0.4}\n'
        )
    experiments = tmp_path_factory.mktemp("experiments")
    experiment_file(experiments, "tiny", TINY_EXPERIMENT)
    (experiments / "try-this.toml").write_text(
        "[pages]\n"
        + "\n".join(f'"{page}" = {TASK!r}'.replace("'", '"') for page in ("Train", "Run board", "Data"))
        + "\n"
    )
    monkeypatch.setenv("VGG_EXPERIMENTS_DIR", str(experiments))
    monkeypatch.setattr(vgg.runs.record, "SHIPPED_MODEL", tmp_path_factory.mktemp("no") / "none.keras")
    monkeypatch.setattr(vgg.runs.record, "SNAPSHOT_MODEL", tmp_path_factory.mktemp("no") / "none-either.keras")
    return runs


def test_a_hostile_run_title_owner_and_task_are_drawn_as_text_for_a_student_and_the_teacher(hostile_class):
    student = page_test("train_page", me="Cy").run()
    # The queued run first: its line in the queue and its header; the finished one's title is in the table only.
    assert_drawn_as_text(student, "Zq2", "Zq3", "Zq5")
    teacher = page_test("train_page").run()
    teacher.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert_drawn_as_text(teacher, "Zq2", "Zq3", "Zq5")
    assert any("Zq" in checkbox.label for checkbox in teacher.checkbox)  # The delete confirmation names the run.
    board = page_test("board_page").run()
    board.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert_drawn_as_text(board, "Zq3")
    # The class dashboard: every run as "owner · title".
    dashboard = page_test("experiments_page").run()
    dashboard.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert_drawn_as_text(dashboard, "Zq1", "Zq2", "Zq5")


def test_a_hostile_links_values_are_echoed_as_text(hostile_class):
    data = page_test("data_page")
    data.query_params["classes"] = LINK
    assert_drawn_as_text(data.run(), "Zq3", "Zq4")
    # Inside VGG16's older links (`?image=val:<position>`) are read before the page loads TensorFlow.
    assert_drawn_as_text(old_inside_link("val:" + LINK), "Zq4")


def old_inside_link(image):
    """What the Inside VGG16 page says of an older link naming `image`, before it draws anything else."""
    script = "import vgg\nfrom app_pages.old_links import follow_old_link\nfollow_old_link()\n"
    app = AppTest.from_string(script, default_timeout=60)
    app.query_params["image"] = image
    return app.run()


@pytest.mark.parametrize(
    "image",
    ["val:\N{SUPERSCRIPT TWO}", "val:" + "9" * 5000],
    ids=["superscript", "5000 digits"],
)
def test_an_older_inside_link_to_no_image_is_one_sentence_not_a_traceback(hostile_class, image):
    """Python's isdigit() holds for "²", which int() refuses, and int() refuses more than 4,300 digits."""
    app = old_inside_link(image)
    assert not app.exception, app.exception
    [notice] = app.info
    assert_one_sentence(notice.value)
    assert "is not among this server's validation images" in notice.value


def test_a_hostile_uploaded_file_name_is_echoed_as_text(hostile_class):
    """A file that is no image is refused in a sentence naming it (the image chooser of Inside VGG16)."""
    script = "import vgg\nfrom app_pages.choosers import image_choice_ui\nimage_choice_ui('upload_test')\n"
    app = AppTest.from_string(script, default_timeout=60).run()
    app.radio(key="upload_test_source").set_value("Upload").run()
    name = "Zq6 [x](http://x.example) <b>b</b> $y$ :red[r].png"
    app.get("file_uploader")[0].set_value((name, b"not an image at all", "image/png")).run()
    assert app.error, "a file that is no image is refused"
    assert_drawn_as_text(app, "Zq6")
