"""Every view is a link (app_pages/links.py): a page opened from an address shows what the address names, a hidden
control is not drawn, a broken link opens the nearest view with one sentence, and a changed control changes the
address. Real pages over the generated images and one tiny trained run."""

import shutil

import pytest

from app_pages.links import VIEW_ONLY_KEY
from helpers import PROJECT_ROOT, assert_one_sentence, notices, opened, page_test, query, tiny_config, widget_keys

TINY = "Run tiny (final)"
SHIPPED = "Shipped VGG16 (assets/)"


@pytest.fixture
def two_runs(monkeypatch, image_folder, trained_runs_dir, tmp_path):
    """The trained tiny run and a second run (created, not trained), so one can be overlaid on the other."""
    from vgg.runs.folder import create_run

    runs = tmp_path / "runs"
    shutil.copytree(trained_runs_dir, runs)
    create_run(runs, tiny_config(), name="second", data_dir=str(image_folder))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs))
    monkeypatch.chdir(PROJECT_ROOT)
    return runs


def test_a_mistakes_link_opens_its_model_and_cell_and_can_hide_them(app_environment):
    app = opened("mistakes_page", model=TINY, cell="cat,dog", me="Ann")
    assert app.selectbox(key="mistakes_model").value == TINY
    assert app.selectbox(key="mistakes_true").value == "cat"
    assert app.selectbox(key="mistakes_called").value == "dog"
    assert query(app) == {"model": TINY, "cell": "cat,dog", "me": "Ann"}
    app.selectbox(key="mistakes_called").set_value("bird").run()
    assert query(app) == {"model": TINY, "cell": "cat,bird", "me": "Ann"}
    hidden = opened("mistakes_page", model=TINY, cell="cat,dog", hide="model,cell")
    assert "mistakes_model" not in widget_keys(hidden, "selectbox")
    assert "mistakes_true" not in widget_keys(hidden, "selectbox")
    assert "**Model**: tiny (final)" in [text.value for text in hidden.markdown], "named by the run's title"
    said = [text.value for text in hidden.markdown] + notices(hidden)
    assert any(
        "**cat** image" in text and "calls **dog**" in text or text == "No cat image is called dog." for text in said
    ), said


def test_a_broken_mistakes_link_opens_the_first_model(app_environment):
    app = opened("mistakes_page", model="Run deleted (final)", cell="cat,unicorn")
    assert notices(app)[:1] == [
        "The link names something that is not here (model=Run deleted (final), cell=cat,unicorn), so the page "
        "opens on the nearest view instead."
    ]
    assert app.selectbox(key="mistakes_model").value in (SHIPPED, TINY)
    assert app.metric[0].label == "Accuracy"


def test_a_predict_link_opens_the_compared_models(app_environment):
    app = opened("predict_page", model=TINY, compare=SHIPPED)
    assert app.selectbox(key="predict_model").value == TINY
    assert app.toggle(key="predict_compare_on").value is True
    assert app.selectbox(key="predict_compare_model").value == SHIPPED
    app.toggle(key="predict_compare_on").set_value(False).run()
    assert query(app) == {"model": TINY}
    hidden = opened("predict_page", model=TINY, compare=SHIPPED, hide="compare")
    assert not [toggle for toggle in hidden.toggle if toggle.key == "predict_compare_on"]
    assert "predict_compare_model" not in widget_keys(hidden, "selectbox")
    assert f"**Model**: {SHIPPED}" in [text.value for text in hidden.markdown]


def test_a_train_link_opens_its_run_overlays_and_axis(two_runs):
    app = opened("train_page", run="tiny", overlay="second", x="images")
    shown = next(box for box in app.selectbox if box.label == "Show run")
    assert shown.value == "tiny"
    assert app.multiselect(key="compare").value == ["second"]
    assert app.session_state["x_axis"] == "images"
    assert query(app) == {"run": "tiny", "overlay": "second", "x": "images"}
    app.multiselect(key="compare").set_value([]).run()
    assert query(app) == {"run": "tiny", "x": "images"}
    hidden = opened("train_page", run="second", hide="run,overlay")
    assert "Show run" not in [box.label for box in hidden.selectbox]
    assert "compare" not in widget_keys(hidden, "multiselect")
    broken = opened("train_page", run="deleted", overlay="deleted-too")
    assert_one_sentence(notices(broken)[0])
    assert "(run=deleted, overlay=deleted-too)" in notices(broken)[0]


def test_the_copy_link_control_keeps_the_view_and_the_hidden_controls_without_the_name(app_environment):
    app = opened("mistakes_page", model=TINY, cell="cat,dog", me="Ann")
    app.multiselect(key="links_hide_mistakes").set_value(["model"]).run()
    link = app.code[-1].value
    assert link.endswith("/mistakes?model=Run+tiny+%28final%29&cell=cat,dog&hide=model")
    assert "Ann" not in link
    board = opened("board_page")
    assert board.code[-1].value.endswith("/board")


def test_a_hidden_image_chooser_shows_the_sample_the_link_named(app_environment, image_folder):
    """For the Inside page to adopt: choosers.image_choice_ui draws no chooser when hidden, and shows the sample."""
    from streamlit.testing.v1 import AppTest

    from vgg.data.cifar10 import load_cifar10

    script = (
        "import streamlit as st\nfrom app_pages.choosers import image_choice_ui\n"
        "image, name = image_choice_ui('inside_image', show=False)\nst.caption(f'{name} {image.shape}')\n"
    )
    app = AppTest.from_string(script, default_timeout=120)
    app.session_state["inside_image_class"], app.session_state["inside_image_index"] = "cat", 2
    app.run()
    assert not app.exception and not app.radio and not app.selectbox and not app.number_input
    assert app.markdown[0].value == "**Image**: validation image cat #2"
    assert app.caption[0].value == "validation image: cat #2 (32, 32, 3)"
    cats = int((load_cifar10(image_folder).y_val == 3).sum())
    app.session_state["inside_image_index"] = 10_000
    app.run()
    assert app.markdown[0].value == f"**Image**: validation image cat #{cats - 1}"


def test_an_inside_link_opens_its_model_image_and_tab_and_can_hide_the_choosers(app_environment):
    link = {"model": TINY, "class": "cat", "index": "2", "tab": "Where it looks"}
    app = opened("inside_page", **link)
    assert app.selectbox(key="inside_model").value == TINY
    assert app.selectbox(key="inside_image_class").value == "cat"
    assert app.number_input(key="inside_image_index").value == 2
    assert app.session_state["inside_tab"] == "Where it looks"
    assert query(app) == link
    app.number_input(key="inside_image_index").set_value(3).run()
    assert query(app)["index"] == "3"

    hidden = opened("inside_page", **link | {"tab": "Feature maps"}, hide="model,class")
    assert "inside_model" not in widget_keys(hidden, "selectbox")
    assert "inside_image_class" not in widget_keys(hidden, "selectbox")
    assert "The model says" in " ".join(element.value for element in hidden.markdown)


def test_an_inside_link_with_every_parameter_reproduces_each_control(app_environment):
    """The shipped snapshot run (assets/) has epochs to choose: a link names the epoch, layer, channel count, colour
    scale and compared class too, and a moved control moves the address."""
    from vgg.runs.record import SNAPSHOT_LABEL

    link = {
        "model": SNAPSHOT_LABEL,
        "class": "cat",
        "index": "2",
        "tab": "Where it looks",
        "epoch": "2",
        "layer": "block3_conv2",
        "channels": "8",
        "scale": "False",
        "versus": "9",
    }
    app = opened("inside_page", **link)
    assert app.select_slider(key="inside_epoch").value == "2"
    assert app.selectbox(key="inside_attention_compare").value == 9
    assert query(app) == link
    # The Feature maps tab's choices, kept while another tab is open, show when it opens.
    app.session_state["inside_tab"] = "Feature maps"
    app.run()
    assert app.select_slider(key="feature_layer").value == "block3_conv2"
    assert app.slider(key="feature_count").value == 8
    assert app.toggle(key="feature_shared").value is False
    assert query(app) == link | {"tab": "Feature maps"}
    app.select_slider(key="feature_layer").set_value("block4_pool").run()
    app.slider(key="feature_count").set_value(12).run()
    assert query(app) | {"layer": "block4_pool", "channels": "12"} == query(app)

    broken = opened("inside_page", **link | {"epoch": "3"})
    assert broken.select_slider(key="inside_epoch").value == "final"
    assert "kept no snapshot of epoch 3" in " ".join(element.value for element in broken.caption)


def test_a_view_only_link_draws_no_control_of_the_view(app_environment):
    """`hide=all` (the copy-link control's "View only"): students see the view the link names, with none of its
    controls and no settings or Start button."""
    link = {"model": TINY, "class": "cat", "index": "2", "tab": "Feature maps", "layer": "block2_conv1", "hide": "all"}
    app = opened("inside_page", **link)
    assert "The model says" in " ".join(element.value for element in app.markdown)
    assert not widget_keys(app, "selectbox") and not widget_keys(app, "select_slider")
    assert not widget_keys(app, "slider") and not widget_keys(app, "number_input")
    assert "Block 2, conv 1" in " ".join(element.value for element in app.caption)
    # The tabs still work: each shows another part of the same view, drawn, not blank.
    app.session_state["inside_tab"] = "Where it looks"
    app.run()
    assert not app.exception and app.get("image"), "the Where it looks tab draws its maps for a view-only reader"
    assert not widget_keys(app, "selectbox") and not widget_keys(app, "select_slider")

    train = opened("train_page", run="tiny", hide="all")
    assert not [button for button in train.button if button.label in ("Start training", "Queue run", "Resume")]
    assert not widget_keys(train, "selectbox") and not widget_keys(train, "multiselect")
    assert "tiny" in " ".join(element.value for element in train.markdown)
    # A sidebar click opens another page without the link's address: the session stays view-only.
    board = page_test("train_page")
    board.session_state[VIEW_ONLY_KEY] = True
    board.run()
    assert not [button for button in board.button if button.label in ("Start training", "Queue run")]


def test_an_inside_link_past_the_classs_last_image_opens_its_last(app_environment, image_folder):
    from vgg.data.cifar10 import load_cifar10

    cats = int((load_cifar10(image_folder).y_val == 3).sum())
    app = opened("inside_page", model=TINY, **{"class": "cat", "index": "500"})
    assert app.number_input(key="inside_image_index").value == cats - 1
