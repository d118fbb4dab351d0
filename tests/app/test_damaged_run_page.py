"""A damaged run is one sentence on the Train page, and the other runs still open."""

from helpers import PROJECT_ROOT, two_runs


def test_a_damaged_run_is_one_sentence_on_the_train_page(tmp_path, monkeypatch, image_folder):
    from streamlit.testing.v1 import AppTest

    kept, damaged = two_runs(tmp_path)
    damaged.status_path.write_text("[]")
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    app = AppTest.from_string("import vgg\nfrom app_pages import train_page\ntrain_page.render()\n", default_timeout=60)
    app.run()
    assert not app.exception
    # The newest run, shown first, is the damaged one: one sentence, and the other run still opens.
    expected = "Run 'damaged' is damaged: its status.json holds a list instead of a record."
    assert [error.value for error in app.error] == [expected]
    app.selectbox(key="show_run_damaged").set_value("kept").run()
    assert not app.exception and not app.error
    assert any("**kept** is **finished**" in markdown.value for markdown in app.markdown)
    assert sorted(app.dataframe[0].value["state"]) == ["damaged", "finished"]
