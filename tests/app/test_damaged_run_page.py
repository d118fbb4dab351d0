"""A damaged run is one sentence on the Train page, and the other runs still open."""

from helpers import PROJECT_ROOT, page_test, two_runs


def test_a_damaged_run_is_one_sentence_on_the_train_page(tmp_path, monkeypatch, image_folder):

    kept, damaged = two_runs(tmp_path)
    damaged.status_path.write_text("[]")
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    app = page_test("train_page")
    app.run()
    assert not app.exception
    # The newest run, shown first, is the damaged one: one sentence, and the other run still opens.
    expected = "Run 'damaged' is damaged: its status.json holds a list instead of a record."
    assert [error.value for error in app.error] == [expected]
    app.selectbox(key="show_run_damaged").set_value("kept").run()
    assert not app.exception and not app.error
    # Named by its preset and settings in words, not by its folder.
    assert any("**cpu preset (an eighth of the width" in markdown.value for markdown in app.markdown)
    assert sorted(app.dataframe[0].value["state"]) == ["damaged", "finished"]
