"""A fresh install's Train page shows the blog run's replay and the doctor's verdict, through AppTest."""

import json
import re

import pytest

from app_pages.charts import run_colours
from app_pages.presenter import PRESENTER_CHART_FONT
from helpers import PROJECT_ROOT, page_test
from vgg.classroom.replays import REPLAYS_DIR

pytestmark = pytest.mark.skipif(not (REPLAYS_DIR / "blog-short").exists(), reason="assets/replays is missing")


def test_a_fresh_install_shows_the_replay_and_the_doctors_verdict(tmp_path, monkeypatch, image_folder):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    app = page_test("train_page").run()
    assert not app.exception
    [replay] = [expander for expander in app.expander if expander.label.startswith("Why did the blog's VGG16")]
    assert replay.proto.expanded, "on a fresh install the replay opens by itself"
    text = " ".join(markdown.value for markdown in app.markdown)
    assert re.search(r"The training doctor, \d+ s into the blog's run:\*\* The network is stuck at chance", text)
    assert "Turn batch normalization on" in text
    assert "Turn batch normalization on and lower the learning rate from 0.001 to 0.0001" in text
    assert re.search(r"with batch norm on: 1\d% of the validation images right", text), "batch norm alone, at chance"
    assert len(app.get("plotly_chart")) == 3, "the replayed curves, the doctor's heatmaps, the dead units side by side"
    # Each replayed run keeps its own colour, the one any other chart gives it.
    curves = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    colours = {trace["meta"]: trace["line"]["color"] for trace in curves if "meta" in trace}
    assert colours == run_colours(colours)
    # The doctor's heatmaps name layers in words and say how to read them.
    heatmaps = json.loads(app.get("plotly_chart")[1].proto.spec)["data"]
    assert "Dense layer 1" in heatmaps[0]["y"] and "fc1" not in heatmaps[0]["y"]
    assert "grey cells are exactly zero" in " ".join(caption.value for caption in app.caption)
    # The dead units of the three runs side by side, each bar in its run's colour.
    bars = json.loads(app.get("plotly_chart")[2].proto.spec)["data"]
    names = ["blog-short", "blog-short-batch-norm", "blog-short-fixed"]
    assert [bar["name"] for bar in bars] == [
        "the blog's recipe",
        "+ batch norm on",
        "+ batch norm on, learning rate 0.0001",
    ]
    assert [bar["marker"]["color"] for bar in bars] == [colours[name] for name in names]


def test_the_doctors_heatmap_draws_an_exactly_zero_gradient_in_its_labelled_colour(tmp_path):
    import shutil

    from app_pages.doctor_view import ZERO_COLOUR, diagnosis_figure
    from vgg.runs.diagnostics import read_diagnostics
    from vgg.runs.folder import Run

    shutil.copytree(REPLAYS_DIR / "blog-short", tmp_path / "blog")
    lines = (tmp_path / "blog" / "diagnostics.jsonl").read_text().splitlines()
    probe = json.loads(lines[-1])
    probe["units"][-2]["gradient_norm"] = 0.0  # Dense layer 2 gets nothing back.
    (tmp_path / "blog" / "diagnostics.jsonl").write_text("\n".join([*lines[:-1], json.dumps(probe)]) + "\n")
    figure = diagnosis_figure(read_diagnostics(Run(tmp_path / "blog")))
    [zeros] = [trace for trace in figure.data if trace.colorscale[0][1] == ZERO_COLOUR]
    assert zeros.z[-2][-1] == 1 and zeros.z[0][0] is None
    assert "exactly zero" in " ".join(annotation.text for annotation in figure.layout.annotations)


def test_in_the_presenter_view_the_charts_text_grows_with_the_page(tmp_path, monkeypatch, image_folder):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    sizes = {}
    for presenting in (False, True):
        app = page_test("train_page")
        app.session_state["presenter"] = presenting
        app.run()
        assert not app.exception
        layouts = [json.loads(chart.proto.spec)["layout"] for chart in app.get("plotly_chart")]
        sizes[presenting] = [layout.get("font", {}).get("size") for layout in layouts]
    assert all(size is None or size < PRESENTER_CHART_FONT for size in sizes[False])
    assert sizes[True] == [PRESENTER_CHART_FONT] * len(sizes[True]), "every chart, the doctor's heatmaps included"


def test_the_presenter_view_leaves_a_shared_figure_as_every_other_session_sees_it():
    from streamlit.testing.v1 import AppTest

    script = (
        "import streamlit as st\nfrom app_pages.plots import go\nfrom app_pages.presenter import plotly_chart\n"
        "st.session_state.presenter = True\nfigure = go.Figure(go.Bar(y=[1, 2]))\nplotly_chart(figure)\n"
        "st.text(f'shared font: {figure.layout.font.size}')\n"
    )
    # Plotly's first import on a cold machine can outlast AppTest's default of 3 s.
    app = AppTest.from_string(script, default_timeout=60).run()
    assert not app.exception
    assert json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]["font"]["size"] == PRESENTER_CHART_FONT
    assert app.text[0].value == "shared font: None", "the cached figure other sessions draw must not change"
