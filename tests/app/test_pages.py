"""Pages that need no trained model, through Streamlit's AppTest: the entry file, the presenter view, the Data page,
and the model pages before any model exists."""

from streamlit.testing.v1 import AppTest

import vgg.runs.record
from helpers import PROJECT_ROOT, notices, page_test, texts


def test_entry_file_routes_to_the_data_page(data_environment, image_folder):
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not app.exception
    assert app.title[0].value == "CIFAR-10"
    assert "10 classes, 32x32 pixels each" in texts(app)
    # A server path tells students nothing: the caption no longer shows it.
    assert str(image_folder) not in texts(app)


def test_the_presenter_view_enlarges_the_text_and_stays_in_the_address(data_environment):
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params["present"] = "1"
    app.run()
    assert not app.exception
    styles = " ".join(element.proto.body for element in app.get("html"))
    assert "font-size: 20px" in styles and app.toggle(key="presenter").value
    app.toggle(key="presenter").set_value(False).run()
    assert "font-size: 20px" not in " ".join(element.proto.body for element in app.get("html"))
    assert "present" not in app.query_params


def test_data_page_browses_classes_and_shows_a_sample_up_close(data_environment):
    app = page_test("data_page").run()
    assert not app.exception
    assert app.pills(key="data_classes").value == [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    app.pills(key="data_classes").set_value(["cat", "ship"]).run()
    assert not app.exception
    assert app.subheader[0].value.startswith("Up close:")
    # The augmented copies come after the original, each captioned with what was done to it.
    assert "**original**" in texts(app)
    plain_copies = [image.proto.imgs[0].url for image in app.get("image")[-7:]]
    app.select_slider(key="cutout_size").set_value(12).run()
    assert not app.exception
    assert [image.proto.imgs[0].url for image in app.get("image")[-7:]] != plain_copies
    assert texts(app).count("cutout") >= 7
    new_copies = next(button for button in app.button if button.label == "New random copies")
    new_copies.click().run()
    assert app.session_state["augment_draw"] == 1
    reshuffle = next(button for button in app.button if button.label == "Reshuffle")
    reshuffle.click().run()
    assert app.session_state["data_seed"] == 1
    app.pills(key="data_classes").set_value([]).run()
    assert not app.exception and "Pick at least one class" in texts(app)


def test_data_page_without_data_says_how_to_get_it(data_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_DATA_DIR", str(tmp_path / "nowhere"))
    app = page_test("data_page").run()
    assert not app.exception
    assert "root/train/<class>" in app.warning[0].value


def test_model_pages_without_any_model_say_how_to_get_one(data_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(vgg.runs.record, "SHIPPED_MODEL", tmp_path / "none.keras")
    monkeypatch.setattr(vgg.runs.record, "SNAPSHOT_MODEL", tmp_path / "none-either.keras")
    for module in ("inside_page", "predict_page"):
        app = page_test(module).run()
        assert not app.exception
        assert "No trained model yet" in notices(app)[0]
