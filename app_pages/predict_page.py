"""Predict: upload photos (or take one) and see what the network makes of them, and where it looks."""

import dataclasses
import hashlib

import numpy as np
import streamlit as st

from app_pages import links
from app_pages.attention_view import attention_ui, empty_sentence, grid_label, legend_ui
from app_pages.caches import runs_dir
from app_pages.charts import top_classes_figure
from app_pages.choosers import model_choice_ui, read_upload, upload_refusal_ui
from app_pages.neighbours_view import model_index_ui, neighbours_ui
from app_pages.pages import PREDICT, page_header
from app_pages.plain import plain
from app_pages.presenter import plotly_chart
from vgg.core.cifar10 import IMAGE_SIZE
from vgg.data.uploads import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from vgg.explain.attention import DEFAULT_BLOCK, is_empty
from vgg.explain.neighbours import image_features
from vgg.explain.unfamiliar import familiarity
from vgg.explain.visualize import enlarge, grid_overlay
from vgg.runs.record import ModelRecord, available_models, model_names

MAX_FILES = 20  # Per upload: each photo costs a decode and a Grad-CAM on the server that 30 students share.
# What a link to this page names (app_pages/links.py): ?model=<label>&compare=<label of the compared model>.
LINK = (
    links.Param("model", "predict_model", "Model", lambda: list(available_models(runs_dir()))),
    links.Param(
        "compare",
        "predict_compare_model",
        "The compared model",
        lambda: list(available_models(runs_dir())),
        also=(("predict_compare_on", True),),
    ),
)
# Said of an upload farther from the training images than all but 5% of validation images (vgg.explain.unfamiliar).
UNFAMILIAR = "This picture looks unlike the photos the network learned from, so its answer is only a guess."
CAMERA_NOTE = (
    "On students' own devices the browser allows the camera only over https or on the machine "
    "itself; use upload otherwise."
)


def uploads_ui():
    """Returns the uploaded files and the camera photo, if any, as a list."""
    files = st.file_uploader(
        "Photos (PNG, JPEG, WebP, GIF, BMP) of any size: the network sees their centre square shrunk to 32x32",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key="predict_upload",
        max_upload_size=MAX_UPLOAD_BYTES // 2**20,
    )
    st.caption("Works best with one object filling the frame.")
    upload_refusal_ui()
    files = list(files or [])
    if len(files) > MAX_FILES:
        st.warning(
            f"At most {MAX_FILES} photos are shown at once: you chose {len(files)}, so the first {MAX_FILES} "
            "are shown below; remove some to see the others."
        )
        files = files[:MAX_FILES]
    toggle, note = st.columns([1, 3], vertical_alignment="center")
    camera_on = toggle.toggle("Use the camera", key="predict_camera_on")
    note.caption(CAMERA_NOTE)
    if camera_on:
        photo = st.camera_input("Take a photo", key="predict_camera")
        if photo is not None:
            files.append(photo)
    return files


def compare_choice_ui(main_label):
    """The optional second model: a Predictor, or None when comparing is off or there is nothing to compare with."""
    show = links.shows("compare")
    if show and not st.toggle(
        "Compare with another model",
        key="predict_compare_on",
        help="Shows both models' three likeliest classes side by side for each photo.",
    ):
        return None
    if not show and links.value(LINK[1]) is None:
        return None
    others = [label for label in available_models(runs_dir()) if label != main_label]
    if not others:
        st.info("There is only one model: train a run on the Train page to compare it with.")
        return None
    # The second chooser starts on another model than the first, since a model compared with itself teaches nothing.
    if st.session_state.get("predict_compare_model") in (None, main_label):
        st.session_state["predict_compare_model"] = others[0]
    return model_choice_ui("predict_compare_model", show=show)


def comparison_ui(models, pixels):
    """Each model's three likeliest classes for one image, side by side; `models` is [(label, predictor)]."""
    for column, (label, predictor) in zip(st.columns(len(models)), models, strict=True):
        box = column.container(border=True)
        box.markdown(f"**{plain(label)}**")
        top = predictor.top_k(pixels, k=3)
        lines = [f"{rank}. {row.name} {row.probability:.0%}" for rank, row in enumerate(top, start=1)]
        # The likeliest class is what the page's heading reports: bold it, as there.
        lines[0] = f"1. **{top[0].name}** {top[0].probability:.0%}"
        box.markdown("  \n".join(lines))


@st.cache_data(max_entries=512, show_spinner=False)
def analyse(digest, source, _predictor, _pixels):
    """(top 5, the answer's class map at the default block) of one 32x32 input by one model, cached by the input's
    hash and the model's file and version: a rerun (a toggle, another photo added) predicts nothing again."""
    top = _predictor.top_k(_pixels, k=5)
    # The map explains the class shown above it, which comes from the image and its mirror image.
    (maps,) = _predictor.attention(_pixels, [top[0].index], saliency=False)
    return top, maps.grids[DEFAULT_BLOCK]


@st.cache_data(max_entries=512, show_spinner=False)
def familiarity_of(digest, source, threshold, _predictor, _index, _pixels):
    """How unlike the model's training photos one input is (vgg.explain.unfamiliar), cached as `analyse` is."""
    return familiarity(_index.calibration, _index.features, image_features(_predictor.model, _pixels))


def answer_map_ui(column, pixels, grid, class_name):
    """The answer's map at the default block with its legend, or the sentence saying it is empty."""
    label = grid_label(DEFAULT_BLOCK, grid)
    if is_empty(grid):
        column.caption(empty_sentence(label, class_name))
        return
    column.image(
        grid_overlay(pixels, grid, float(grid.max()), scale=6), caption=f"Where it finds '{class_name}': {label}"
    )
    legend_ui(column)


def answer_caption_ui(slot, probability, unsure_below, classes):
    """Beside the answer, in `slot` (which the unfamiliar-image flag may later take): that the network is unsure
    when its top probability is below `unsure_below` (None: not known, so nothing is said); and always that a name
    and a percentage come whatever the image."""
    if unsure_below is not None and probability < unsure_below:
        slot.warning(
            f"The network is unsure: {probability:.0%} is less than it gives its answer on 95% of its "
            f"validation images (at least {unsure_below:.0%}).",
            icon=":material/help:",
        )
    st.caption(f"It must name one of its {classes} classes whatever the image, so a high percentage is no proof.")


@dataclasses.dataclass(frozen=True)
class Shown:
    """An upload whose answer is drawn, and the slot under its heading for the unfamiliar-image flag."""

    digest: str
    pixels: np.ndarray
    flag: object


def unsure_threshold():
    """The chosen model's unsure threshold (vgg.runs.record.ModelRecord.unsure_below), or None."""
    path = available_models(runs_dir()).get(st.session_state.get("predict_model"))
    return ModelRecord.of(path).unsure_below if path is not None else None


def flag_unfamiliar_ui(predictor, shown, index):
    """Flags each shown upload that is unlike the training photos of `index` (a NeighbourIndex), in its slot."""
    if index is None or index.calibration is None:
        return
    for upload in shown:
        known = familiarity_of(
            upload.digest, predictor.source, index.calibration.threshold, predictor, index, upload.pixels
        )
        if known.unfamiliar:
            upload.flag.warning(UNFAMILIAR, icon=":material/help:")


def prediction_ui(predictor, uploaded_file, compared=(), first=False, unsure_below=None):
    """One upload's answer and where it looks from the main model, then, when comparing, `compared`: [(label,
    predictor)] of both models side by side. The maps of every block open for the `first` upload only; an answer
    below `unsure_below` is called unsure. Returns the upload as Shown, or None when it is no image."""
    decoded = read_upload(uploaded_file)
    if decoded is None:
        return None
    preview, pixels, (width, height) = decoded
    digest = hashlib.sha256(pixels.tobytes()).hexdigest()
    top, grid = analyse(digest, predictor.source, predictor, pixels)
    st.markdown(f"#### {plain(uploaded_file.name)}: **{top[0].name}** ({top[0].probability:.0%})")
    flag = st.empty()
    answer_caption_ui(flag, top[0].probability, unsure_below, len(predictor.class_names))
    original, seen, cam, chart = st.columns([1, 1, 1, 2])
    original.image(preview, caption=f"Your image, {width}x{height}")
    original_size = 192
    seen.image(
        enlarge(pixels, original_size // IMAGE_SIZE), caption=f"What the network sees: {IMAGE_SIZE}x{IMAGE_SIZE}"
    )
    answer_map_ui(cam, pixels, grid, top[0].name)
    plotly_chart(
        top_classes_figure([(row.name, row.probability) for row in top]),
        container=chart,
        key=f"top5_{uploaded_file.name}_{id(uploaded_file)}",
    )
    if compared:
        comparison_ui(compared, pixels)
    # Drawn only when open: two classes' saliency maps cost about a quarter of a second per photo on the server.
    where = st.expander(
        "Where it looks: blocks 3, 4 and 5 and each pixel, for its answer and another class",
        expanded=first,
        key=f"predict_where_{uploaded_file.name}_{uploaded_file.file_id}",
        on_change="rerun",
    )
    if where.open:
        with where:
            attention_ui(predictor, pixels, key=f"predict_{uploaded_file.name}_{uploaded_file.file_id}")
    # Closed at first: the first look builds the model's index of training images (seconds, once per model).
    near = st.expander(
        "What it is near, block by block: the closest training images",
        key=f"predict_near_{uploaded_file.name}_{uploaded_file.file_id}",
        on_change="rerun",
    )
    if near.open:
        with near:
            neighbours_ui(predictor, pixels, available_models(runs_dir())[st.session_state["predict_model"]])
    return Shown(digest, pixels, flag)


def render():
    page_header(PREDICT, LINK)
    main, second = st.columns(2)
    with main:
        predictor = model_choice_ui("predict_model", show=links.shows("model"))
    if predictor is None:
        return
    with second:
        other = compare_choice_ui(st.session_state.get("predict_model"))
    links.write(
        PREDICT.path,
        LINK,
        {
            "model": st.session_state.get("predict_model"),
            "compare": st.session_state["predict_compare_model"] if other else None,
        },
    )
    compared = ()
    if other is not None:
        names = model_names(runs_dir())
        compared = [
            (names[st.session_state[key]], model)
            for key, model in (("predict_model", predictor), ("predict_compare_model", other))
        ]
    files = uploads_ui()
    if not files:
        st.info(
            "Upload one or more photos: a cat, a car, a ship… The network knows the 10 CIFAR-10 classes: "
            + ", ".join(predictor.class_names)
            + "."
        )
        return
    # Read once for all uploads: a run's record reads its metrics file.
    unsure_below = unsure_threshold()
    shown = [
        prediction_ui(predictor, uploaded_file, compared, number == 0, unsure_below)
        for number, uploaded_file in enumerate(files)
    ]
    # After the answers, so that a model's first index (built once per model, under a progress bar) never holds
    # them back: the flags join the answers when it is ready.
    index, _ = model_index_ui(predictor, available_models(runs_dir())[st.session_state["predict_model"]])
    flag_unfamiliar_ui(predictor, [upload for upload in shown if upload is not None], index)
