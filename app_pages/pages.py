"""The app's seven pages, each described once: the router (streamlit_app.py), the "Try this" tasks (keyed by the
title), the links (app_pages/links.py, keyed by the path) and each page's heading read it from here."""

import dataclasses

import streamlit as st

from app_pages import links
from app_pages.try_this import try_this_ui


@dataclasses.dataclass(frozen=True)
class PageInfo:
    title: str  # The sidebar's name, and the page's key in experiments/try-this.toml.
    path: str  # Its address (/inside), and its name in links and session state.
    icon: str
    module: str  # The module in app_pages/ whose `render()` draws it.
    heading: str  # The title at the top of the page.


DATA = PageInfo("Data", "data", ":material/photo_library:", "data_page", "CIFAR-10")
TRAIN = PageInfo("Train", "train", ":material/monitoring:", "train_page", "Train VGG16")
EXPERIMENTS = PageInfo("Experiments", "experiments", ":material/science:", "experiments_page", "Experiments")
BOARD = PageInfo("Run board", "board", ":material/leaderboard:", "board_page", "Run board")
INSIDE = PageInfo("Inside VGG16", "inside", ":material/biotech:", "inside_page", "Inside VGG16")
PREDICT = PageInfo("Predict", "predict", ":material/target:", "predict_page", "What does VGG16 see?")
MISTAKES = PageInfo("Mistakes", "mistakes", ":material/troubleshoot:", "mistakes_page", "Mistakes")
PAGES = (DATA, TRAIN, EXPERIMENTS, BOARD, INSIDE, PREDICT, MISTAKES)  # In the sidebar's order.


def page_header(page, link=None):
    """The top of `page`: its heading and its "Try this" task; with its `link` parameters (app_pages/links.py), the
    view a link names is followed and the copy-link control drawn."""
    st.title(page.heading)
    try_this_ui(page.title)
    if link is not None:
        links.follow(page.path, link)
        links.share_ui(page.path, link)


def mistakes_link(model_label):
    """The address of the Mistakes page opened on a model (by its label in the model chooser)."""
    return links.address(MISTAKES.path, {"model": model_label})
