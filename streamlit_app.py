"""VGG16 Lab: `streamlit run streamlit_app.py`. This file only routes; each page is a function."""

import vgg  # noqa: F401  (sets TensorFlow's environment before any page imports it)

import streamlit as st

from app_pages import data_page, inside_page, predict_page, train_page

st.set_page_config(page_title="VGG16 Lab", page_icon=":material/neurology:", layout="wide")
# CIFAR-10 images are 32x32: browsers blur them when enlarging, so every image keeps crisp pixels.
st.html("<style>[data-testid='stImage'] img, [data-testid='stFullScreenFrame'] img {image-rendering: pixelated;}</style>")

pages = [
    st.Page(data_page.render, title="Data", icon=":material/photo_library:", url_path="data", default=True),
    st.Page(train_page.render, title="Train", icon=":material/monitoring:", url_path="train"),
    st.Page(inside_page.render, title="Inside VGG16", icon=":material/biotech:", url_path="inside"),
    st.Page(predict_page.render, title="Predict", icon=":material/target:", url_path="predict"),
]
st.navigation(pages).run()
