"""Every view is a link (app_pages/links.py): a page opened from an address shows what the address names, a hidden
control is not drawn, a broken link opens the nearest view with one sentence, and a changed control changes the
address. Real pages over the generated images and one tiny trained run."""

import re
import shutil

import pytest

from conftest import PROJECT_ROOT, assert_one_sentence, page_test, tiny_config

TINY = "Run tiny (final)"
SHIPPED = "Shipped VGG16 (assets/)"


def notices(app):
    """The page's blue notices, without its "Try this" task."""
    return [element.value for element in app.info if not element.value.startswith("**Try this:**")]


def opened(module, **query):
    app = page_test(module)
    for name, text in query.items():
        app.query_params[name] = text
    app.run()
    assert not app.exception
    return app


def query(app):
    return {name: app.query_params[name] for name in app.query_params}


def widget_keys(app, kind):
    return [widget.key for widget in app.get(kind)]


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


def test_a_data_link_reproduces_the_view_and_follows_the_controls(app_environment):
    link = {"classes": "cat,dog", "per_class": "4", "draw": "2", "page": "2", "image": "dog:3", "cutout": "8",
            "copies": "1"}
    app = opened("data_page", **link)
    assert app.pills(key="data_classes").value == ["cat", "dog"]
    assert app.slider(key="data_per_class").value == 4
    assert app.number_input(key="data_page").value == 2
    assert app.select_slider(key="cutout_size").value == 8
    assert app.session_state["data_seed"] == 2 and app.session_state["augment_draw"] == 1
    assert app.subheader[0].value == "Up close: dog 3"
    assert query(app) == link
    app.slider(key="data_per_class").set_value(6).run()
    assert query(app)["per_class"] == "6"
    # The address does not call the user back to the link's values once they changed a control.
    assert app.slider(key="data_per_class").value == 6 and app.subheader[0].value == "Up close: dog 3"
    app.pills(key="data_classes").set_value(["ship"]).run()
    assert query(app)["classes"] == "ship" and app.subheader[0].value.startswith("Up close: ship")


def test_a_data_link_hides_the_controls_it_names(app_environment):
    app = opened("data_page", classes="cat", per_class="3", hide="classes,per_class")
    assert "data_classes" not in widget_keys(app, "button_group")
    assert not app.slider
    assert app.number_input(key="data_page").value == 1
    assert app.subheader[0].value.startswith("Up close: cat")
    assert query(app) == {"classes": "cat", "per_class": "3", "hide": "classes,per_class",
                          "image": app.subheader[0].value.removeprefix("Up close: ").replace(" ", ":")}
    # Other controls still work, and the hidden ones keep the link's values.
    app.number_input(key="data_page").set_value(2).run()
    assert query(app)["page"] == "2" and query(app)["classes"] == "cat"


def test_a_broken_data_link_opens_the_nearest_view_with_one_sentence(app_environment):
    app = opened("data_page", classes="cat,unicorn", page="9999", per_class="4")
    assert notices(app) == [
        "The link names something that is not here (classes=cat,unicorn, page=9999), so the page opens on the "
        "nearest view instead."
    ]
    assert_one_sentence(notices(app)[0])
    assert len(app.pills(key="data_classes").value) == 10
    assert app.number_input(key="data_page").value == 1
    assert app.slider(key="data_per_class").value == 4
    app.slider(key="data_per_class").set_value(5).run()
    assert not notices(app)


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
    assert f"**Model**: {TINY}" in [text.value for text in hidden.markdown]
    said = [text.value for text in hidden.markdown] + notices(hidden)
    assert any("**cat** image" in text and "calls **dog**" in text or text == "No cat image is called dog."
               for text in said), said


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

    script = ("import streamlit as st\nfrom app_pages.choosers import image_choice_ui\n"
              "image, name = image_choice_ui('inside_image', show=False)\nst.caption(f'{name} {image.shape}')\n")
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


@pytest.mark.browser
@pytest.mark.slow
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

    hidden = opened("inside_page", **link, hide="model,class")
    assert "inside_model" not in widget_keys(hidden, "selectbox")
    assert "inside_image_class" not in widget_keys(hidden, "selectbox")
    assert "The model says" in " ".join(element.value for element in hidden.markdown)


@pytest.mark.slow
def test_an_inside_link_with_every_parameter_reproduces_each_control(app_environment):
    """The shipped snapshot run (assets/) has epochs to choose: a link names the epoch, layer, channel count, colour
    scale and compared class too, and a moved control moves the address."""
    from vgg.runs.record import SNAPSHOT_LABEL

    link = {"model": SNAPSHOT_LABEL, "class": "cat", "index": "2", "tab": "Where it looks", "epoch": "2",
            "layer": "block3_conv2", "channels": "8", "scale": "False", "versus": "9"}
    app = opened("inside_page", **link)
    assert app.select_slider(key="inside_epoch").value == "2"
    assert app.select_slider(key="feature_layer").value == "block3_conv2"
    assert app.slider(key="feature_count").value == 8
    assert app.toggle(key="feature_shared").value is False
    assert app.selectbox(key="inside_attention_compare").value == 9
    assert query(app) == link
    app.select_slider(key="feature_layer").set_value("block4_pool").run()
    app.slider(key="feature_count").set_value(12).run()
    assert query(app) | {"layer": "block4_pool", "channels": "12"} == query(app)

    broken = opened("inside_page", **link | {"epoch": "3"})
    assert broken.select_slider(key="inside_epoch").value == "final"
    assert "kept no snapshot of epoch 3" in " ".join(element.value for element in broken.caption)


def test_a_view_only_link_draws_no_control_of_the_view(app_environment):
    """`hide=all` (the copy-link control's "View only"): students see the view the link names, with none of its
    controls and no settings or Start button."""
    link = {"model": TINY, "class": "cat", "index": "2", "layer": "block2_conv1", "hide": "all"}
    app = opened("inside_page", **link)
    assert "The model says" in " ".join(element.value for element in app.markdown)
    assert not widget_keys(app, "selectbox") and not widget_keys(app, "select_slider")
    # Only the map to click squares on is left: exploring it changes nothing the link names.
    assert not widget_keys(app, "slider") and widget_keys(app, "number_input") == ["field_channel"]
    assert "Block 2, conv 1" in " ".join(element.value for element in app.caption)

    train = opened("train_page", run="tiny", hide="all")
    assert not [button for button in train.button if button.label in ("Start training", "Queue run", "Resume")]
    assert not widget_keys(train, "selectbox") and not widget_keys(train, "multiselect")
    assert "tiny" in " ".join(element.value for element in train.markdown)


def test_an_inside_link_past_the_classs_last_image_opens_its_last(app_environment, image_folder):
    from vgg.data.cifar10 import load_cifar10

    cats = int((load_cifar10(image_folder).y_val == 3).sum())
    app = opened("inside_page", model=TINY, **{"class": "cat", "index": "500"})
    assert app.number_input(key="inside_image_index").value == cats - 1


def test_a_copied_link_opens_the_same_view_in_another_browser(browser, server):
    """The teacher changes a control, hides the model chooser and copies the link; a student's browser (a context
    of its own, so another session) opens it on the same model and cell, without the model chooser."""
    import urllib.parse

    from playwright.sync_api import expect

    from browser_helpers import VIEWPORT, screenshot, wait_until_idle

    teacher = browser.new_context(viewport=VIEWPORT).new_page()
    teacher.goto(f"{server.url}/mistakes?" + urllib.parse.urlencode({"model": TINY, "cell": "cat,dog"}))
    expect(teacher.get_by_text("Accuracy")).to_be_visible(timeout=120_000)
    wait_until_idle(teacher)
    teacher.get_by_test_id("stSelectbox").filter(has_text="Called").click()
    teacher.get_by_role("option", name="bird", exact=True).click()
    wait_until_idle(teacher)
    expect(teacher).to_have_url(re.compile(r"cell=cat(,|%2C)bird"))
    # Streamlit 1.67 pushes a history entry for each new address: Back returns to the view before.
    teacher.go_back()
    expect(teacher.get_by_role("combobox", name="Called")).to_have_value("dog", timeout=30_000)
    teacher.go_forward()
    expect(teacher.get_by_role("combobox", name="Called")).to_have_value("bird", timeout=30_000)
    wait_until_idle(teacher)
    teacher.get_by_role("button", name="Copy link for students").click()
    popover = teacher.get_by_test_id("stPopoverBody")
    popover.get_by_test_id("stMultiSelect").click()
    teacher.get_by_role("option", name="Model", exact=True).click()
    popover.get_by_text("Whoever opens this link").click()  # Closes the list of options, so the link shows.
    wait_until_idle(teacher)
    link = popover.get_by_test_id("stCode").inner_text().strip()
    assert link == f"{server.url}/mistakes?model=Run+tiny+%28final%29&cell=cat,bird&hide=model", link
    screenshot(teacher, "links")
    teacher.context.close()

    student = browser.new_context(viewport=VIEWPORT).new_page()
    student.goto(link)
    expect(student.get_by_text(f"Model: {TINY}")).to_be_visible(timeout=120_000)
    wait_until_idle(student)
    expect(student.get_by_role("combobox", name="True class")).to_have_value("cat")
    expect(student.get_by_role("combobox", name="Called")).to_have_value("bird")
    expect(student.get_by_role("combobox", name="Model", exact=True)).to_have_count(0)
    expect(student).to_have_url(re.compile(r"hide=model"))
    screenshot(student, "links-student")
    student.context.close()


def test_a_view_only_link_shows_students_the_view_without_its_controls_in_chromium(browser, server):
    """The teacher's view of a cat's block 2 maps, opened from a View only link in a student's browser: the same
    model, image and layer, written out, with no chooser to change them."""
    from playwright.sync_api import expect

    from browser_helpers import VIEWPORT, screenshot, wait_until_idle

    student = browser.new_context(viewport=VIEWPORT).new_page()
    student.goto(f"{server.url}/inside?model=Run+tiny+%28final%29&class=cat&index=2&tab=Feature+maps"
                 "&layer=block2_conv1&hide=all")
    expect(student.get_by_text("validation image cat #2").first).to_be_visible(timeout=120_000)
    wait_until_idle(student)
    expect(student.get_by_text(re.compile(r"^Block 2, conv 1 \(16x16\): "))).to_be_visible()
    expect(student.get_by_role("combobox")).to_have_count(0)
    expect(student.get_by_role("slider")).to_have_count(0)
    screenshot(student, "links-view-only")
    student.context.close()
