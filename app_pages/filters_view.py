"""The Inside VGG16 page's Filters tab: what the first layer's 3x3 filters answer, and for a deeper layer what
each channel wants (a picture made up to excite it beside the validation photos that excite it most), and what
each class wants.

The pictures and the top photos are computed once per model file (with a progress bar, about ten seconds for
a layer's pictures and twenty for the pass over the validation photos on two cores) and saved; later visits
and other sessions read them back. The tab is drawn only while it is open, so the other tabs never wait for it.
"""

import pathlib

import numpy as np
import streamlit as st

from app_pages.caches import cached_split_id, dataset_for
from app_pages.computed import computed_ui, still_training_ui
from app_pages.picture_grid import picture_grid
from vgg.core.layers import conv_of
from vgg.data.cifar10 import default_data_dir
from vgg.explain.evaluation import evaluation_key, split_for
from vgg.explain.feature_vis import CLASSES, first_layer_kinds, pictures_of
from vgg.explain.ready import SHOWN_CHANNELS, deeper_layers, default_layer
from vgg.explain.top_images import top_images_of
from vgg.explain.visualize import (
    channel_card,
    deep_filters,
    enlarge,
    first_layer_filters,
    receptive_field_geometry,
    receptive_fields,
)
from vgg.model.names import layer_label

CARD_COLUMNS = 4


def first_layer_ui(model):
    kernel = model.get_layer("block1_conv1").get_weights()[0]
    kinds = np.array(first_layer_kinds(kernel))
    st.markdown(
        f"**First layer**: {kernel.shape[3]} filters of 3x3 pixels, each drawn as the colour patch that excites it "
        "most. A 3x3 filter is too small to look like an object: each answers one simple question about 3x3 "
        f"pixels. **{(kinds == 'colour').sum()}** are colour detectors (one colour over all 9 pixels: they fire on "
        f"patches of it), **{(kinds == 'edge').sum()}** are edge detectors (light on one side, dark or another "
        "colour on the other: they fire where the image changes)."
    )
    if not model.get_layer("block1_conv1").trainable:
        st.caption(
            "This layer was not trained: its filters were set before training to whiten the images' 3x3 "
            "patches (each pattern's strength evened out, each filter in both signs), and stayed so."
        )
    columns = st.columns(2)
    for column, kind, title in zip(columns, ("colour", "edge"), ("Colour detectors", "Edge detectors"), strict=True):
        chosen = np.flatnonzero(kinds == kind)
        if len(chosen):
            column.image(first_layer_filters(kernel[..., chosen], scale=16), caption=title)


def layer_choice_ui(model):
    """The deeper conv layer the user chose; block 3's last conv by default, whose channels draw textures."""
    names = deeper_layers(model)
    default = names.index(default_layer(model))
    return st.selectbox("Deeper layer", names, index=default, format_func=layer_label, key="filter_layer")


def top_images_for(model, path, split):
    """(TopImages, the validation images) of the model at `path` on `split`, or None after one sentence."""
    from vgg.model.build import activation_layer_names

    dataset, message = dataset_for(*split)
    if dataset is None:
        st.info(f"{message} Without validation photos only the made-up pictures are shown.")
        return None
    key = evaluation_key(path, cached_split_id(default_data_dir(), *split, dataset))
    what = f"the photos that excite each channel most ({len(dataset.y_val):,} validation photos)"
    top = computed_ui(
        what, lambda progress: top_images_of(key, activation_layer_names(model), dataset.x_val, lambda: model, progress)
    )
    return None if top is None else (top, dataset.x_val)


def channels_text(model, layer, channels, with_photos):
    """What the channel cards show, in words: a field as wide as the image gives whole photos, not crops."""
    size = model.inputs[0].shape[1]
    field = receptive_fields(model)[layer]
    title = (
        f"**What each channel of {layer_label(layer)} wants**, the first {channels} of {model.get_layer(layer).filters}"
    )
    made_up = (
        "a picture made up to excite the channel most, starting from grey noise and changed step by step "
        "to raise its response"
    )
    if not with_photos:
        return f"{title}: {made_up}."
    photos = (
        f"whole, since this layer's squares look at windows of {field} pixels, as wide as the image"
        if field >= size
        else f"cut to the {field}x{field} pixels one square of this layer looks at"
    )
    return f"{title}. Left: {made_up}. Right: the 9 validation photos that excite it most, {photos}."


def channels_ui(model, path, split):
    from vgg.model.build import activation_layer_names

    layer = layer_choice_ui(model)
    channels = min(SHOWN_CHANNELS, model.get_layer(layer).filters)
    pictures = computed_ui(
        f"what {channels} channels of {layer_label(layer)} want",
        lambda progress: pictures_of(path, layer, lambda: model, SHOWN_CHANNELS, progress),
    )
    if pictures is None:
        return
    found = top_images_for(model, path, split)
    # Its channels' responses after the ReLU (the conv itself when the ReLU is built in), as the top photos saved.
    activation = next(name for name in activation_layer_names(model) if conv_of(name) == layer)
    st.markdown(channels_text(model, layer, channels, found is not None))
    cards = []
    for index, channel in enumerate(pictures.targets):
        crops = found[0].crops(found[1], receptive_field_geometry(model), activation, channel) if found else []
        cards.append(channel_card(pictures.images[index], crops) if crops else enlarge(pictures.images[index], 3))
    # A wider gap than a row of photos': each card is a picture beside photos, and cards must not run together.
    st.html(picture_grid(cards, [f"Channel {target}" for target in pictures.targets], CARD_COLUMNS, column_gap=1.25))
    with st.expander("The layer's weights, summed over their inputs (advanced)"):
        kernel = model.get_layer(layer).get_weights()[0]
        st.caption(
            f"{kernel.shape[3]} filters of 3x3x{kernel.shape[2]}; each square sums a filter over its input "
            "channels (red positive, blue negative weights), which cancels most of what it does."
        )
        st.image(deep_filters(kernel, count=min(32, kernel.shape[3]), scale=8))


def classes_ui(model, path, class_names):
    pictures = computed_ui(
        "what each class wants", lambda progress: pictures_of(path, CLASSES, lambda: model, len(class_names), progress)
    )
    if pictures is None:
        return
    st.markdown(
        "**What each class wants**: for each class, a picture made up to raise the model's score for it "
        "as far as it goes. Look for colours and textures (blue sky, green grass, fur) more than shapes."
    )
    captions = [class_names[target] for target in pictures.targets]
    st.html(picture_grid(list(pictures.images), captions, len(captions)))


def filters_ui(predictor, path):
    """The whole tab for the model `predictor` loaded from `path`."""
    first_layer_ui(predictor.model)
    if still_training_ui(path, "the pictures of what its channels and classes want"):
        return
    channels_ui(predictor.model, pathlib.Path(path), split_for(path))
    classes_ui(predictor.model, pathlib.Path(path), predictor.class_names)
