"""The server's warm-up (app_pages/warm.py): after its first page, TensorFlow and the first models load in a thread,
and each run's model as the run ends, so that the first Inside VGG16 view of a model loads no model itself."""

import shutil
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages import warm
from helpers import PROJECT_ROOT, counting, opened
from vgg.core.files import file_version
from vgg.explain.predictor import Predictor
from vgg.runs.record import SHIPPED_LABEL, SHIPPED_MODEL


@pytest.fixture
def warming(monkeypatch):
    """The warm-up switched on, from a clean model cache (another test in this process may have loaded the
    shipped model already). Each test stops the thread it started."""
    monkeypatch.setenv(warm.WARM_UP_VARIABLE, "1")
    st.cache_resource.clear()


def inside_view_loads(monkeypatch, model):
    """The models the Inside page loads itself when it first opens on `model` (its label), on a cat's feature maps."""
    loads = counting(monkeypatch, Predictor, "for_file")
    inside = opened("inside_page", model=model, tab="Feature maps", **{"class": "cat", "index": "0"})
    assert inside.get("image"), "the Inside page drew no feature maps"
    return loads


def test_the_first_inside_view_after_the_first_page_loads_no_model(warming, data_environment, monkeypatch):
    first_page = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not first_page.exception
    warm_up = warm.start_warm_up(str(data_environment))  # The one the first page started, from the server's cache.
    try:
        assert warm_up.ready.wait(timeout=300)
        assert (str(SHIPPED_MODEL), file_version(SHIPPED_MODEL)) in warm_up.warmed
        assert inside_view_loads(monkeypatch, SHIPPED_LABEL) == [], "the first Inside view loaded its model itself"
    finally:
        warm_up.stopped.set()


def test_a_run_that_ends_later_is_loaded_before_its_first_view(
    warming, data_environment, trained_runs_dir, monkeypatch
):
    monkeypatch.setattr(warm, "WATCH_SECONDS", 0.2)
    warm_up = warm.start_warm_up(str(data_environment), quiet_seconds=0.1)
    try:
        assert warm_up.ready.wait(timeout=300)
        shutil.copytree(trained_runs_dir / "tiny", data_environment / "tiny")  # Its model appears: the run ended.
        model = data_environment / "tiny" / "model.keras"
        deadline = time.monotonic() + 120
        while (str(model), file_version(model)) not in warm_up.warmed and time.monotonic() < deadline:
            time.sleep(0.2)
        assert inside_view_loads(monkeypatch, "Run tiny (final)") == [], "the run's first view loaded its model"
    finally:
        warm_up.stopped.set()


def test_tests_and_a_switched_off_server_start_no_warm_up(data_environment, monkeypatch):
    monkeypatch.setenv(warm.WARM_UP_VARIABLE, "0")
    st.cache_resource.clear()
    assert warm.start_warm_up(str(data_environment)) is None
