"""The Predict page says a map with no evidence is empty, instead of darkening the photo; Where it looks and
Mistakes say when the model is guessing."""

import numpy as np

from helpers import generated_images, png_bytes, texts, tiny_config


def no_evidence_model(runs_dir):
    """A tiny run whose every class score falls as any unit's activation grows: non-negative conv and hidden
    weights, non-positive output weights. No cell of any block can add to any class, so every block's map is
    empty, while the pixels still move the score."""
    from vgg.model.build import build_from_config
    from vgg.runs.folder import create_run

    config = tiny_config(head="small", batch_norm=False)
    model = build_from_config(config)
    for layer in model.layers:
        if layer.name.startswith(("block", "fc")) and layer.weights:
            layer.kernel.assign(np.abs(layer.kernel.numpy()) + 0.01)
    last = model.get_layer("predictions")
    last.kernel.assign(-np.abs(last.kernel.numpy()) - 0.01)
    run = create_run(runs_dir, config, name="no-evidence", title="Empty maps", owner="Ada")
    model.save(run.model_path)
    return run


def images_shown(app):
    return app.get("image")


def test_predict_page_says_an_empty_map_is_empty_instead_of_darkening_the_photo(
    data_environment, monkeypatch, tmp_path
):
    from helpers import page_test

    runs_dir = tmp_path / "runs"
    no_evidence_model(runs_dir)
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    images, _ = generated_images(per_class=1, seed=3)
    app = page_test("predict_page").run()
    # The picker names the run by its title and starter, not by its folder.
    assert "Empty maps · Ada (final)" in app.selectbox(key="predict_model").options
    app.selectbox(key="predict_model").set_value("Run no-evidence (final)").run()
    app.get("file_uploader")[0].set_value([("photo.png", png_bytes(images[2]), "image/png")]).run()
    assert not app.exception, app.exception
    words = texts(app)
    # The headline map and the answer's and the compared class's rows: every block says it is empty in words.
    for block, grid in ((3, "8x8"), (4, "4x4"), (5, "2x2")):
        assert f"Empty at block {block} · {grid} grid: no cell adds anything to" in words
    assert words.count("Empty at block 3 · 8x8 grid") == 3
    # Pictures: the upload, what the network sees, and per class only the pixels map; then the legend.
    assert len(images_shown(app)) == 2 + 2 + 1


def guessing_model(runs_dir):
    """A tiny run whose output layer is all zeros: one in ten for every class of every image, a model at chance."""
    from vgg.model.build import build_from_config
    from vgg.runs.folder import create_run

    config = tiny_config(head="small")
    model = build_from_config(config)
    for weight in model.get_layer("predictions").weights:
        weight.assign(np.zeros(weight.shape))
    run = create_run(runs_dir, config, name="guessing", title="At chance")
    model.save(run.model_path)
    return run


def test_where_it_looks_and_mistakes_say_a_model_at_chance_is_guessing(data_environment, monkeypatch, tmp_path):
    from helpers import page_test

    runs_dir = tmp_path / "runs"
    guessing_model(runs_dir)
    monkeypatch.setenv("VGG_RUNS_DIR", str(runs_dir))
    images, _ = generated_images(per_class=1, seed=3)
    predict = page_test("predict_page").run()
    predict.selectbox(key="predict_model").set_value("Run guessing (final)").run()
    predict.get("file_uploader")[0].set_value([("photo.png", png_bytes(images[2]), "image/png")]).run()
    assert not predict.exception, predict.exception
    # Where it looks (open for the first photo) warns above its maps.
    assert any("the model is guessing" in warning.value for warning in predict.warning)
    mistakes = page_test("mistakes_page").run()
    mistakes.selectbox(key="mistakes_model").set_value("Run guessing (final)").run()
    assert not mistakes.exception, mistakes.exception
    assert any("the model is guessing" in warning.value for warning in mistakes.warning)
    # Mistakes at one in ten are no surer than any answer: none is presented as the model's most confident.
    assert "None to show: this model guesses, and even its surest mistake is at 10%." in texts(mistakes)
    assert not [button for button in mistakes.button if button.key and button.key.startswith("confident_inspect")]
