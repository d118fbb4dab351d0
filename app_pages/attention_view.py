"""Where the network looks in one image, for its answer and for a class to compare: the maps of blocks 3, 4 and 5
at their own grid sizes and a saliency map at the input's pixels, with a colour legend. Pages call `attention_ui`;
the maps are cached per image, model and pair of classes, so a rerun recomputes nothing."""

import hashlib

import numpy as np
import streamlit as st

from app_pages import links
from vgg.core.cifar10 import IMAGE_SIZE
from vgg.explain.attention import BLOCKS, DEFAULT_BLOCK, SALIENCY_SAMPLES, is_empty
from vgg.explain.visualize import color_bar, grid_overlay, is_guessing

SCALE = 5  # A 32x32 image drawn at 160 pixels: four maps fit beside each other at 1024 pixels wide.
COARSE_BLOCK5 = (
    "Block 5's 2x2 grid is coarse because each of its four cells sums up a quarter of the image: it can "
    "only say which quarter holds the evidence."
)


def guessing_ui(container, top_probability, classes):
    """A warning when the answer's probability is about one in `classes`: the model guesses, and neither its answer
    nor its maps mean anything yet. Feature maps, Where it looks and Mistakes say it with this one sentence."""
    if is_guessing(top_probability, classes):
        container.warning(
            f"≈ {1 / classes:.0%}: one in {classes}, the model is guessing. A model that has not learned "
            "gives about the same answer for every image: try another one.",
            icon=":material/casino:",
        )


def grid_label(block, grid):
    """'block 3 · 8x8 grid': which layer a map comes from and how many cells it has."""
    return f"block {block} · {grid.shape[0]}x{grid.shape[1]} grid"


def empty_sentence(where, class_name):
    """What an empty map means, said instead of drawing a dark picture."""
    return (
        f"Empty at {where}: no cell adds anything to '{class_name}'; at this layer the evidence for it is all against."
    )


@st.cache_data(max_entries=512, show_spinner=False)
def probabilities_of(digest, source, _predictor, _pixels):
    """The class probabilities of one image, cached as `class_maps` is: a rerun predicts nothing again."""
    return _predictor.probabilities(_pixels)[0]


@st.cache_data(max_entries=256, show_spinner=False)
def class_maps(digest, source, classes, _predictor, _pixels):
    """[ClassMaps] of one image for `classes`, cached by the image's hash, the model's file and version and the
    classes."""
    return _predictor.attention(_pixels, list(classes))


def map_ui(column, pixels, grid, label, class_name, start_here=False):
    """One map over the image on its own scale, or the sentence saying it is empty."""
    caption = label + (" (read this first)" if start_here else "")
    if is_empty(grid):
        column.markdown(f"**{caption}**")
        column.caption(empty_sentence(label, class_name))
    else:
        # A fixed width: a caption wider than the picture would otherwise stretch it beyond its neighbours.
        column.image(
            grid_overlay(pixels, grid, float(grid.max()), scale=SCALE), caption=caption, width=SCALE * IMAGE_SIZE
        )


def legend_ui(container=st):
    """The colour scale, low to high, and what the brightness measures."""
    container.image(
        color_bar(width=SCALE * IMAGE_SIZE),
        caption="dark: adds nothing · bright: adds the most",
        width=SCALE * IMAGE_SIZE,
    )


def comparison_choice_ui(class_names, probabilities, answer, key):
    """The class to compare with the answer: any other class, the runner-up first and pre-selected."""
    others = [int(index) for index in np.argsort(probabilities)[::-1] if index != answer]
    if st.session_state.get(key) not in others:  # A link's class that is this image's answer: the runner-up.
        st.session_state.pop(key, None)
    if not links.shows("versus"):
        return st.session_state.get(key, others[0])
    return st.selectbox(
        "Compare with the class",
        others,
        index=0,
        key=key,
        format_func=lambda index: f"{class_names[index]} ({probabilities[index]:.0%})",
        help="Classes from likeliest to least likely: the runner-up first.",
    )


def class_row_ui(pixels, maps, title, class_name):
    """One class's maps of blocks 3, 4 and 5 and its saliency, side by side under `title`."""
    st.markdown(title)
    columns = st.columns(len(BLOCKS) + 1)
    for column, block in zip(columns, BLOCKS, strict=False):
        grid = maps.grids[block]
        map_ui(column, pixels, grid, grid_label(block, grid), class_name, block == DEFAULT_BLOCK)
    label = f"pixels · {pixels.shape[0]}x{pixels.shape[1]}"
    map_ui(columns[-1], pixels, maps.saliency, label, class_name)


def attention_ui(predictor, pixels, key):
    """Draws where `predictor` looks in `pixels` (a 32x32 uint8 image) for its answer and for a chosen class, with
    the legend and how to read it; `key` tells this image's widgets apart. Returns the compared class's index."""
    digest = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()
    source = predictor.source or str(id(predictor))
    probabilities = probabilities_of(digest, source, predictor, pixels)
    names = predictor.class_names
    answer = int(np.argmax(probabilities))
    guessing_ui(st, float(probabilities[answer]), len(names))
    other = comparison_choice_ui(names, probabilities, answer, f"{key}_compare")
    maps = class_maps(digest, source, (answer, other), predictor, pixels)
    class_row_ui(pixels, maps[0], f"Its answer, **{names[answer]}** ({probabilities[answer]:.0%})", names[answer])
    class_row_ui(pixels, maps[1], f"Compared with **{names[other]}** ({probabilities[other]:.0%})", names[other])
    legend, words = st.columns([1, 3], vertical_alignment="center")
    legend_ui(legend)
    words.caption(
        "Each block's map is its last layer: a cell is bright where its features add to the class's score (gradient "
        "times activation). Each map has its own scale, brightest where it finds the most: compare where the maps "
        "look, not how bright they are. Block 3's 8x8 cells are 4x4 pixels each, and greying out its brightest "
        "cells changes the answer more than any other block's: read it first. "
        f"{COARSE_BLOCK5} The pixels map shows how much each pixel's small change moves the score, averaged over "
        f"{SALIENCY_SAMPLES} noisy copies (SmoothGrad); it is much the same whichever class is asked."
    )
    return other
