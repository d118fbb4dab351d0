"""The training doctor on the Train page: a run stuck at chance shows its verdict, its heatmaps and a fix whose
button starts the fixed run through the normal start path, overlaid on the original."""

from helpers import PROJECT_ROOT, page_test, train_quietly
from vgg.classroom.launch import stop_active_runs
from vgg.core.config import PRESETS
from vgg.runs.folder import create_run, list_runs
from vgg.runs.naming import run_title


def test_a_stuck_run_shows_its_diagnosis_and_its_fix_starts_overlaid(image_folder, tmp_path, monkeypatch):
    config = PRESETS["blog"].replace(width=0.25, epochs=1, validation_size=100, log_every_seconds=0.0)
    run = create_run(tmp_path, config, name="blog", preset="blog", data_dir=str(image_folder))
    assert train_quietly(run, image_folder).state == "finished"
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    app = page_test("train_page").run()
    assert not app.exception
    assert any(warning.value.startswith("The network is stuck at chance") for warning in app.warning)
    charts = {chart.key for chart in app.get("plotly_chart")}
    assert {"chart_blog", "doctor_chart_blog"} <= charts, "the training chart and the doctor's heatmaps"
    assert any("Turn batch normalization on" in markdown.value for markdown in app.markdown)
    try:
        app.button(key="doctor_fix_blog").click().run()
        assert not app.exception
        fixed = [other for other in list_runs(tmp_path) if other.name != "blog"]
        assert len(fixed) == 1
        assert fixed[0].config().batch_norm and not run.config().batch_norm
        # An untitled run is called by its preset and changes; its fix by that name and its number.
        assert fixed[0].status().title == f"{run_title(run.config(), run.status())}, fix 1"
        assert app.multiselect(key="compare").value == ["blog"]
    finally:
        stop_active_runs(tmp_path)
