"""A Data page link (app_pages/links.py) shows the view it names, hides the controls it names, and a broken one
opens the nearest view with one sentence. Real pages over the generated images."""

from helpers import assert_one_sentence, notices, opened, query, widget_keys


def test_a_data_link_reproduces_the_view_and_follows_the_controls(data_environment):
    link = {
        "classes": "cat,dog",
        "per_class": "4",
        "draw": "2",
        "page": "2",
        "image": "dog:3",
        "cutout": "8",
        "copies": "1",
    }
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


def test_a_data_link_hides_the_controls_it_names(data_environment):
    app = opened("data_page", classes="cat", per_class="3", hide="classes,per_class")
    assert "data_classes" not in widget_keys(app, "button_group")
    assert not app.slider
    assert app.number_input(key="data_page").value == 1
    assert app.subheader[0].value.startswith("Up close: cat")
    assert query(app) == {
        "classes": "cat",
        "per_class": "3",
        "hide": "classes,per_class",
        "image": app.subheader[0].value.removeprefix("Up close: ").replace(" ", ":"),
    }
    # Other controls still work, and the hidden ones keep the link's values.
    app.number_input(key="data_page").set_value(2).run()
    assert query(app)["page"] == "2" and query(app)["classes"] == "cat"


def test_a_broken_data_link_opens_the_nearest_view_with_one_sentence(data_environment):
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
