"""VGG16 Lab: `streamlit run streamlit_app.py`. This file only routes; each page is a function."""

import importlib

import streamlit as st

import vgg  # noqa: F401  (sets TensorFlow's environment before any page imports it)
from app_pages.caches import runs_dir, start_queue_pump, start_shipped_preparation
from app_pages.class_ui import keep_name_in_address, refuse_weak_password
from app_pages.follow_view import follow_ui, share_view
from app_pages.pages import DATA, PAGES
from app_pages.presenter import presenter_ui
from app_pages.streamlit_patches import patch_streamlit
from app_pages.warm import note_page, start_warm_up

patch_streamlit()  # No Keras reset after each run, and uploads capped per browser (app_pages/streamlit_patches.py).

# CIFAR-10 images are 32x32: browsers blur them when enlarging, so every image keeps crisp pixels.
CRISP_IMAGES = "[data-testid='stImage'] img, [data-testid='stFullScreenFrame'] img {image-rendering: pixelated;}"
# A 1024x768 projector has no height to spare: the title starts just below the toolbar's 60 px band, and the
# sidebar and margins leave the page most of the width.
PROJECTOR_LAYOUT = (
    "[data-testid='stMainBlockContainer'] {padding: 2.5rem 1.5rem 4rem;}"
    " [data-testid='stSidebar'][data-collapsed='false'] {width: 13rem !important; min-width: 13rem !important;}"
)


def page(info):
    """A page whose module is imported when it first runs, so no page's imports (TensorFlow) delay
    another's first draw."""

    def render():
        importlib.import_module(f"app_pages.{info.module}").render()

    return st.Page(render, title=info.title, icon=info.icon, url_path=info.path)


ROUTES = {info: page(info) for info in PAGES}
BY_PATH = {info.path: route for info, route in ROUTES.items()}


def open_data_page():
    st.switch_page(ROUTES[DATA], query_params=st.query_params.to_dict())


st.set_page_config(page_title="VGG16 Lab", page_icon=":material/neurology:", layout="wide")
note_page()
refuse_weak_password()
keep_name_in_address()
start_queue_pump(str(runs_dir()))
start_shipped_preparation()
st.html(f"<style>{CRISP_IMAGES} {PROJECTOR_LAYOUT}</style>")
presenter_ui()
# Streamlit serves the default page only at "/": a hidden one takes "/" and sends it on, so /data answers too.
home = st.Page(open_data_page, title=DATA.title, url_path="home", default=True, visibility="hidden")
navigation = st.navigation([home, *ROUTES.values()])
follow_ui(BY_PATH, navigation.url_path)
navigation.run()
share_view(navigation.url_path)  # The teacher's view as this run left it, shared at once while the class follows.
# TensorFlow and the first models load at a quiet moment after the first page, not on someone's first Inside view.
note_page()
start_warm_up(str(runs_dir()))
