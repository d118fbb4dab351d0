"""The server's warm-up (app_pages/warm.py): after its first page, TensorFlow and the first models load in a thread,
so that the first Inside VGG16 view loads no model itself."""

import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages import warm
from helpers import PROJECT_ROOT, counting, opened
from vgg.explain.predictor import Predictor
from vgg.runs.record import SHIPPED_LABEL, SHIPPED_MODEL


def test_the_first_inside_view_after_the_first_page_loads_no_model(data_environment, monkeypatch):
    monkeypatch.setenv(warm.WARM_UP_VARIABLE, "1")
    st.cache_resource.clear()  # Another test in this process may have loaded the shipped model already.
    first_page = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not first_page.exception
    thread = warm.start_warm_up(str(data_environment))  # The one the first page started, from the server's cache.
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert SHIPPED_MODEL in warm.models_to_warm(data_environment)

    loads = counting(monkeypatch, Predictor, "for_file")
    inside = opened("inside_page", model=SHIPPED_LABEL, tab="Feature maps", **{"class": "cat", "index": "0"})
    assert inside.get("image"), "the Inside page drew no feature maps"
    assert loads == [], "the first Inside view loaded its model itself"


def test_tests_and_a_switched_off_server_start_no_warm_up(data_environment, monkeypatch):
    monkeypatch.setenv(warm.WARM_UP_VARIABLE, "0")
    st.cache_resource.clear()
    assert warm.start_warm_up(str(data_environment)) is None
