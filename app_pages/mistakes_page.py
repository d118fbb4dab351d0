"""Mistakes: a model's confusion matrix, the validation images behind any of its cells, and where the model
looked in one of them.

The model's answers for every validation image come from vgg.explain.evaluation: computed once per model file and
data split (with a progress bar), saved, then read back once per server for every session, so any later view
draws from memory.
"""

import pathlib

import numpy as np
import streamlit as st

from app_pages import links
from app_pages.attention_view import guessing_ui
from app_pages.caches import cached_split_id, dataset_for, newer_checkpoint, runs_dir
from app_pages.charts import confusion_figure, percent, top_classes_figure
from app_pages.choosers import model_choice_ui, sample_of
from app_pages.computed import computed_ui, model_key_ui, saved, still_training_ui
from app_pages.pages import INSIDE, MISTAKES, page_header
from app_pages.presenter import plotly_chart, presenting
from vgg.data.cifar10 import CLASS_NAMES, default_data_dir
from vgg.explain.cache import CacheKey
from vgg.explain.evaluation import (
    DEFAULT_SPLIT,
    evaluation_key,
    evaluation_of,
    load_saved,
    split_for,
)
from vgg.explain.visualize import enlarge, heatmap_is_empty, heatmap_overlay, is_guessing
from vgg.runs.record import available_models

GALLERY_PAGE = 12  # Images per gallery page: two rows of six fit a 1024x768 projector.
GALLERY_COLUMNS = 6
MATRIX_KEY = "mistakes_matrix"
TRUE_KEY, CALLED_KEY = "mistakes_true", "mistakes_called"
INSPECT_SCALE = 7  # 32x32 images at 224 px: three side by side fit the dialog on a 1024x768 projector.
# What a link to this page names (app_pages/links.py): ?model=<label>&cell=<true class>,<class called>.
LINK = (
    links.Param("model", "mistakes_model", "Model", lambda: list(available_models(runs_dir()))),
    links.Param("cell", (TRUE_KEY, CALLED_KEY), "The cell's class choosers", lambda: list(CLASS_NAMES), many=True),
)


@st.cache_resource(show_spinner=False, max_entries=8)
def read_back(file, model_sha256, split, flip_average, _dataset):
    """The evaluation saved in `file`, read once per server and shared by every session; NotSaved when there is
    none."""
    key = CacheKey(model_sha256, split, pathlib.Path(file))
    return saved(load_saved(key, _dataset.y_val, _dataset.class_names, flip_average))


def evaluation_ui(predictor, path, dataset, split):
    """The model's evaluation: read back, or computed the first time under a progress bar; None after one sentence."""
    key = model_key_ui(lambda: evaluation_key(path, split), path)
    if key is None:
        return None
    return computed_ui(
        f"the model's answers to {len(dataset.y_val):,} validation images",
        lambda progress: evaluation_of(key, dataset, lambda: predictor.model, predictor.flip_average, progress),
        lambda: read_back(str(key.file), key.model_sha256, key.detail, predictor.flip_average, dataset),
    )


def summary_ui(evaluation):
    right = int((evaluation.predictions == evaluation.labels).sum())
    st.metric(
        "Accuracy",
        f"{evaluation.accuracy:.1%}",
        help="The share of the validation images (never trained on) that the model calls by their class.",
    )
    views = (
        f" Each image is averaged with its mirror image, as Predict does ({evaluation.single_view_accuracy:.1%} "
        "on the images alone)."
        if evaluation.flip_average
        else ""
    )
    st.caption(
        f"{right:,} of {evaluation.images:,} validation images right, {evaluation.images - right:,} mistakes.{views}"
    )


def class_table_ui(evaluation):
    """Per class: how many of its images are found (recall), how often its name is right (precision), and the
    class its images are most often called instead."""
    rows = []
    for index, name in enumerate(evaluation.class_names):
        confused = evaluation.most_confused(index)
        rows.append(
            {
                "class": name,
                "recall": percent(evaluation.recall[index]),
                "precision": percent(evaluation.precision[index]),
                "most often called": "–"
                if confused is None
                else f"{evaluation.class_names[confused[0]]} ({confused[1]})",
            }
        )
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "recall": st.column_config.TextColumn(
                help="Of the images of this class, the share the model calls by its name."
            ),
            "precision": st.column_config.TextColumn(
                help="Of the images the model calls by this name, the share that are of this class (– when it "
                "calls none by it)."
            ),
            "most often called": st.column_config.TextColumn(
                help="The class this class's images are most often taken for, and how many of them."
            ),
        },
    )


def matrix_key():
    """The matrix's widget key, new after each click: Plotly unselects a selected point clicked again, so a
    fresh chart makes every click a selection, even of the cell last clicked."""
    return f"{MATRIX_KEY}_{st.session_state.get(MATRIX_KEY + '_clicks', 0)}"


def follow_click(names):
    """Makes a clicked cell of the matrix the chosen one (runs before the page reruns)."""
    points = st.session_state[matrix_key()]["selection"]["points"]
    if points and points[0].get("x") in names and points[0].get("y") in names:
        st.session_state[TRUE_KEY], st.session_state[CALLED_KEY] = points[0]["y"], points[0]["x"]
        st.session_state[MATRIX_KEY + "_clicks"] = st.session_state.get(MATRIX_KEY + "_clicks", 0) + 1


def confusion_key(evaluation):
    """What the confusion figure depends on: the counts and the class names."""
    return evaluation.confusion.tobytes(), evaluation.confusion.shape, tuple(evaluation.class_names)


@st.cache_resource(max_entries=64, show_spinner=False)
def shared_confusion_figure(key, chosen, _evaluation):
    """The confusion figure of one matrix and chosen cell, built once for every session: a class opening Mistakes
    on one model draws the same figure 30 times. Callers must not change it."""
    return confusion_figure(_evaluation, chosen, shared=True)


def matrix_ui(evaluation):
    """The matrix and the per-class table side by side; returns the chosen cell as (true, called) class indices."""
    names = list(evaluation.class_names)
    if st.session_state.get(TRUE_KEY) not in names or st.session_state.get(CALLED_KEY) not in names:
        # A first visit opens on the model's most frequent mistake, the one worth talking about.
        true, called = evaluation.most_frequent_mistake()
        st.session_state[TRUE_KEY], st.session_state[CALLED_KEY] = names[true], names[called]
    chosen = (names.index(st.session_state[TRUE_KEY]), names.index(st.session_state[CALLED_KEY]))
    # In the presenter view the matrix takes two thirds of the width: its cells' numbers grow with the page's text.
    matrix, table = st.columns([2, 1] if presenting() else [1, 1])
    with matrix:
        st.markdown(
            "**Confusion matrix**: rows are the true classes, columns the model's answers. "
            "Click a square to see its images."
        )
        plotly_chart(
            shared_confusion_figure(confusion_key(evaluation), chosen, evaluation),
            key=matrix_key(),
            on_select=lambda: follow_click(names),
            selection_mode="points",
            config={"displayModeBar": False},
        )
        st.caption("Green: right answers. Red: mistakes, the darker the larger their share of the true class.")
    with table:
        st.markdown("**Per class**")
        class_table_ui(evaluation)
    return chosen


def cell_choice_ui(evaluation):
    """The two class choosers that name the shown cell (a click on the matrix sets them too)."""
    names = list(evaluation.class_names)
    if not links.shows("cell"):
        return names.index(st.session_state[TRUE_KEY]), names.index(st.session_state[CALLED_KEY])
    true_column, called_column = st.columns(2)
    true = true_column.selectbox("True class", names, key=TRUE_KEY)
    called = called_column.selectbox("Called", names, key=CALLED_KEY)
    return names.index(true), names.index(called)


def card_text(evaluation, index):
    """An image's three likeliest classes, the answer in bold and the true class in green."""
    true = int(evaluation.labels[index])
    top = evaluation.top(index, 3)
    if true not in [label for label, _ in top]:
        top.append((true, float(evaluation.probabilities[index, true])))
    lines = []
    for rank, (label, probability) in enumerate(top):
        line = (
            f"{evaluation.class_names[label]} {probability:.0%}"
            if probability >= 0.005
            else (f"{evaluation.class_names[label]} <1%")
        )
        line = f"**{line}**" if rank == 0 else line
        lines.append(f":green[{line}]" if label == true else line)
    return "  \n".join(lines)


def gallery_ui(evaluation, dataset, indices, key):
    """Images `indices` in rows, each with its likeliest classes and an Inspect button; returns the index of the
    image whose button was pressed, or None."""
    shown_key = f"{key}_shown"
    shown = min(st.session_state.get(shown_key, GALLERY_PAGE), len(indices))
    chosen = None
    for start in range(0, shown, GALLERY_COLUMNS):
        # The last row may be short: its empty columns keep every image the same size.
        row = indices[start : min(start + GALLERY_COLUMNS, shown)]
        for column, index in zip(st.columns(GALLERY_COLUMNS)[: len(row)], row, strict=True):
            column.image(enlarge(dataset.x_val[index], 3), width="stretch")
            # The button right under its image keeps a row's buttons in line whatever the captions' lengths.
            if column.button("Inspect", key=f"{key}_inspect_{index}", icon=":material/zoom_in:", width="stretch"):
                chosen = int(index)
            column.caption(card_text(evaluation, index))
    if shown < len(indices):
        st.button(
            f"Show {min(GALLERY_PAGE, len(indices) - shown)} more (of {len(indices) - shown} left)",
            key=f"{key}_more",
            on_click=lambda: st.session_state.update({shown_key: shown + GALLERY_PAGE}),
        )
    return chosen


def cell_gallery_ui(evaluation, dataset, cell):
    """The gallery of one cell's images under a sentence saying what they are; returns the image to inspect."""
    true, called = cell
    names = evaluation.class_names
    indices = evaluation.cell(true, called)
    if not len(indices):
        st.info(f"No {names[true]} image is called {names[called]}.")
        return None
    noun = "image" if len(indices) == 1 else "images"
    rightly = ", rightly" if true == called else ""
    st.markdown(
        f"{len(indices):,} **{names[true]}** {noun} the model calls **{names[called]}**{rightly}, the most "
        "confident first. Each shows its three likeliest classes; the true class is green."
    )
    return gallery_ui(evaluation, dataset, indices, f"cell_{names[true]}_{names[called]}")


def typical_confidence(evaluation):
    """The probability the model gives its answer on a typical validation image (the median)."""
    return float(np.median(evaluation.confidence))


def confident_gallery_ui(evaluation, dataset):
    st.markdown("**The most confident mistakes**: the images the model gets wrong while most sure of itself.")
    mistakes = evaluation.confident_mistakes()
    if not len(mistakes):
        st.info("The model gets every validation image right.")
        return None
    if is_guessing(typical_confidence(evaluation), len(evaluation.class_names)):
        # Every answer is a guess: the "most confident" of them are sure of nothing, so none is worth a look.
        top = float(evaluation.confidence[mistakes[0]])
        st.caption(f"None to show: this model guesses, and even its surest mistake is at {top:.0%}.")
        return None
    return gallery_ui(evaluation, dataset, mistakes, "confident")


def inside_link(label, dataset, index, split):
    """The address of the Inside VGG16 page opened with model `label` on validation image `index` of `split`: by
    its class and number there, or on the model only when the split is not the Inside page's own."""
    if split != DEFAULT_SPLIT:
        return links.address(INSIDE.path, {"model": label})
    class_name, number = sample_of(dataset.y_val, index)
    return links.address(INSIDE.path, {"model": label, "class": class_name, "index": number, "tab": "Feature maps"})


def inside_link_text(label, dataset, index, split):
    """The link from an inspected image to the Inside VGG16 page, in words."""
    link = inside_link(label, dataset, index, split)
    if split == DEFAULT_SPLIT:
        return f"[See its feature maps on Inside VGG16]({link})"
    return (
        f"[Open this model on Inside VGG16]({link}): it was checked on other validation images than the Inside "
        "page offers, so choose an image there."
    )


def inspection_ui(predictor, evaluation, dataset, index, model_label, split):
    """One image large, Grad-CAM for its true class and for the model's answer side by side, its top 5, a link."""
    image, names = dataset.x_val[index], evaluation.class_names
    true, called = int(evaluation.labels[index]), int(evaluation.predictions[index])
    # A right answer has one class to explain; its runner-up is the other class the model weighed.
    other = called if called != true else evaluation.top(index, 2)[1][0]
    other_what = "its answer" if called != true else "the runner-up"
    # Block 3 first: greying out what its map marks costs the answer more than block 4's
    # (vgg.explain.attention.DEFAULT_BLOCK).
    heatmaps, block = predictor.grad_cams(image, (true, other), blocks=(3, 4))
    picture, true_cam, other_cam = st.columns(3)
    picture.image(enlarge(image, INSPECT_SCALE), caption=f"Validation image {index}: a {names[true]}")
    for column, label, what, heatmap in zip(
        (true_cam, other_cam), (true, other), ("the true class", other_what), heatmaps, strict=True
    ):
        column.image(
            enlarge(heatmap_overlay(image, heatmap, opacity=0.55), INSPECT_SCALE),
            caption=f"Grad-CAM for {what}: '{names[label]}'",
        )
        if heatmap_is_empty(heatmap):
            column.caption(f"Empty: no region at this layer pushes the answer towards '{names[label]}'.")
    grid = image.shape[0] // 2 ** (block - 1)
    fallback = ", as block 3 gave an empty map" if block != 3 else ""
    st.caption(
        f"Grad-CAM: where the model finds evidence for a class, bright = more, on a grid of "
        f"{grid}x{grid} regions (block {block}{fallback})."
    )
    chart, words = st.columns([3, 2], vertical_alignment="center")
    top = [(names[label], probability) for label, probability in evaluation.top(index, 5)]
    plotly_chart(
        top_classes_figure(top), container=chart, key=f"inspect_top5_{index}", config={"displayModeBar": False}
    )
    words.markdown(
        f"The model says **{names[called]}** ({evaluation.probabilities[index, called]:.0%})."
        + (
            f" It gives the true class, {names[true]}, {evaluation.probabilities[index, true]:.0%}."
            if called != true
            else ""
        )
    )
    words.markdown(inside_link_text(model_label, dataset, index, split))


def open_inspection(predictor, evaluation, dataset, index, model_label, split):
    names = evaluation.class_names
    title = f"A {names[evaluation.labels[index]]} called {names[evaluation.predictions[index]]}"
    st.dialog(title, width="large")(inspection_ui)(predictor, evaluation, dataset, index, model_label, split)


@st.cache_resource(show_spinner=False, max_entries=4)
def warm_grad_cam(predictor_id, _predictor):
    """Traces a loaded model's Grad-CAM functions once, after the page is drawn, so that even the first Inspect
    answers within a second rather than after two seconds of tracing."""
    blank = np.zeros(_predictor.model.inputs[0].shape[1:], dtype=np.float32)
    for block in (3, 4):
        _predictor.grad_cam(blank, class_index=0, block=block)


def render():
    page_header(MISTAKES, LINK)
    chooser, summary = st.columns([3, 2])
    with chooser:
        predictor = model_choice_ui("mistakes_model", show=links.shows("model"))
    label = st.session_state.get("mistakes_model")
    links.write(MISTAKES.path, LINK, {"model": label})
    path = available_models(runs_dir()).get(label)
    if predictor is None or path is None or still_training_ui(path, "its mistakes"):
        return
    if newer_checkpoint("mistakes_model", path):
        st.info("The run has saved a newer checkpoint since you chose it: load it (button above) to see its mistakes.")
        return
    split = split_for(path)
    dataset, message = dataset_for(*split)
    if dataset is None:
        st.info(message)
        return
    evaluation = evaluation_ui(predictor, path, dataset, cached_split_id(default_data_dir(), *split, dataset))
    if evaluation is None:
        return
    with summary:
        summary_ui(evaluation)
        guessing_ui(st, typical_confidence(evaluation), len(evaluation.class_names))
    matrix_ui(evaluation)
    cell = cell_choice_ui(evaluation)
    links.write(MISTAKES.path, LINK, {"model": label, "cell": [evaluation.class_names[index] for index in cell]})
    chosen = cell_gallery_ui(evaluation, dataset, cell)
    confident = confident_gallery_ui(evaluation, dataset)
    chosen = confident if chosen is None else chosen
    if chosen is not None:
        open_inspection(predictor, evaluation, dataset, chosen, label, split)
    warm_grad_cam(id(predictor), predictor)
