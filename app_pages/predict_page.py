"""Predict: upload photos (or take one) and see what the network makes of them, and where it looks."""

import streamlit as st

from app_pages.charts import top_classes_figure
from app_pages.common import model_choice_ui, read_upload
from vgg.images import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from vgg.visualize import enlarge, heatmap_overlay


def uploads_ui():
    """Returns the uploaded files and the camera photo, if any, as a list."""
    files = st.file_uploader(
        "Images (PNG, JPEG, WebP, GIF, BMP; any size)", type=UPLOAD_TYPES, accept_multiple_files=True,
        key="predict_upload", max_upload_size=MAX_UPLOAD_BYTES // 2**20,
    )
    files = list(files or [])
    if st.toggle("Use the camera", key="predict_camera_on"):
        photo = st.camera_input("Take a photo", key="predict_camera")
        if photo is not None:
            files.append(photo)
    return files


def prediction_ui(predictor, uploaded_file):
    decoded = read_upload(uploaded_file)
    if decoded is None:
        return
    image, pixels = decoded
    top = predictor.top_k(pixels, k=5)
    # Grad-CAM explains the class shown above it, which comes from the image and its mirror image.
    heatmap, predicted = predictor.grad_cam(pixels, class_index=top[0].index)
    st.markdown(f"#### {uploaded_file.name}: **{top[0].name}** ({top[0].probability:.0%})")
    original, seen, cam, chart = st.columns([1, 1, 1, 2])
    preview = image.copy()
    preview.thumbnail((256, 256))
    original.image(preview, caption=f"Your image, {image.width}x{image.height}")
    original_size = 192
    seen.image(enlarge(pixels, original_size // 32), caption="What the network sees: 32x32")
    cam.image(
        enlarge(heatmap_overlay(pixels, heatmap, opacity=0.55), original_size // 32),
        caption=f"Grad-CAM: where it looks for '{predictor.class_names[predicted]}'",
    )
    chart.plotly_chart(top_classes_figure([(row.name, row.probability) for row in top]), key=f"top5_{uploaded_file.name}_{id(uploaded_file)}")


def render():
    st.title("What does VGG16 see?")
    predictor = model_choice_ui("predict_model")
    if predictor is None:
        return
    files = uploads_ui()
    if not files:
        st.info("Upload one or more photos: a cat, a car, a ship… The network knows the 10 CIFAR-10 classes: "
                + ", ".join(predictor.class_names) + ".")
        return
    for uploaded_file in files:
        prediction_ui(predictor, uploaded_file)
