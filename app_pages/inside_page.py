"""Inside VGG16: the architecture block by block, the feature maps of every block for one image (a click on a
square frames the pixels it looks at), what the filters and classes want (app_pages/filters_view.py); for a model
whose run kept snapshots, an Epoch slider shows all of it as it was at an earlier epoch (app_pages/snapshot_view.py).

The whole page reruns on every change; only the open tab is drawn."""

import numpy as np
import streamlit as st

from app_pages import links
from app_pages.architecture_view import architecture_ui
from app_pages.attention_view import attention_ui, guessing_ui
from app_pages.caches import dataset_or_message, newer_checkpoint, runs_dir
from app_pages.choosers import image_choice_ui, model_choice_ui
from app_pages.filters_view import filters_ui
from app_pages.neighbours_view import neighbours_ui
from app_pages.old_links import follow_old_link
from app_pages.pages import INSIDE, page_header
from app_pages.plain import plain
from app_pages.plots import go
from app_pages.presenter import folded, plotly_chart
from app_pages.snapshot_view import (
    FINAL_EPOCH,
    beside_start_ui,
    earlier_epoch_note,
    earlier_filters_ui,
    epoch_choice_ui,
    has_start,
    start_predictor,
    zero_text,
)
from vgg.core.config import BLOCK_CHANNELS
from vgg.core.layers import BLOCKS, conv_of
from vgg.data.cifar10 import CLASS_NAMES
from vgg.explain.visualize import (
    enlarge,
    feature_map_grid,
    outline,
    receptive_field_box,
    receptive_field_geometry,
    strongest_channels,
)
from vgg.model.names import block_of, feature_stop_label
from vgg.runs.record import available_models

# What each block's maps can and cannot show for a 32x32 input (every model here takes 32x32),
# since a 4x4 grid cannot show an eye whatever the channel has learned.
BLOCK_STORIES = {
    1: "32x32 grid, one square per pixel (16x16 after pooling). Each square answers a simple question about the "
    "3x3 or 5x5 pixels around it: is there an edge here, at this angle? a patch of this colour? The object's "
    "outline is easy to see in many maps.",
    2: "16x16 grid: each square stands for a 2x2-pixel patch and looks at a window of 10 to 14 pixels around it "
    "(8x8 after pooling). The maps still follow the object's shape, more blurred; which pattern a channel "
    "answers (a corner, a curve, a texture) cannot be read from one image.",
    3: "8x8 grid: each square stands for a 4x4-pixel patch and looks at a window of 24 to 40 pixels, most of the "
    "image (4x4 after pooling). Too coarse to draw the object: a map shows which regions (the animal, the sky, "
    "the grass) make a channel fire, not what it found there.",
    4: "4x4 grid: each square sums up an 8x8-pixel patch and sees the whole image around it (2x2 after pooling). "
    "Too coarse to show parts such as an eye or a wheel: it shows where in the image each channel fires.",
    5: "2x2 grid: each square sums up a quarter of the image (1x1 after pooling: one number per channel). No "
    "picture is left: each channel only says how strongly it fired, and the classifier reads those numbers "
    "to choose a class.",
}


def layer_choice_ui(predictor, maps):
    """The layer the user chose."""
    names = predictor.activation_names + predictor.pool_names
    order = sorted(names, key=lambda name: (block_of(name), name.endswith("_pool"), name))
    # Stops are named after their conv ("block3_conv2" for its ReLU's maps), the same for models with and without
    # batch norm, so a model switch keeps the stop and a link names it the same way.
    stops = {conv_of(name): name for name in order}
    labels = {stop: feature_stop_label(name, *maps[name].shape[:2]) for stop, name in stops.items()}
    if st.session_state.get("feature_layer") not in stops:
        st.session_state.feature_layer = next(iter(stops))
    if links.shows("layer"):
        # The layer slider gets four fifths of the page's width: its 18 to 23 stops crowd a narrower column.
        st.select_slider("Layer", list(stops), key="feature_layer", format_func=labels.get)
    return stops[st.session_state.feature_layer]


def layer_stops():
    """Every stop a VGG of Table 1 can have, as links name them: each block's convs (as many as its deepest
    variant has) and its pooling."""
    blocks = zip(*BLOCK_CHANNELS.values(), strict=True)
    return [
        f"block{block}_{part}"
        for block, variants in enumerate(blocks, start=1)
        for part in (*(f"conv{index}" for index in range(1, max(map(len, variants)) + 1)), "pool")
    ]


def display_choice_ui(column):
    """How many channels to show and on which colour scale, beside the image to keep the maps in the first
    screen of a projector: (count, shared scale)."""
    columns = column.columns(2, vertical_alignment="center")
    st.session_state.setdefault("feature_count", 16)
    st.session_state.setdefault("feature_shared", True)
    if links.shows("channels"):
        columns[0].slider("Channels", 1, 64, key="feature_count")
    if links.shows("scale"):
        columns[1].toggle(
            "Shared colour scale",
            key="feature_shared",
            help="One scale for all maps compares channels; per-map scales show each map's pattern.",
        )
    return st.session_state.feature_count, st.session_state.feature_shared


def feature_maps_ui(predictor, image, label, epoch=None):
    left, right = st.columns([1, 4])
    answer_ui(predictor, image, label, left, right)
    maps = predictor.feature_maps(image)
    # Every choice beside the image, so that the maps start in a projector's first screen.
    with right:
        layer = layer_choice_ui(predictor, maps)
    count, shared = display_choice_ui(right)
    block = block_of(layer)
    activation = maps[layer]
    st.caption(
        f"{feature_stop_label(layer, *activation.shape[:2])}: {activation.shape[2]} channels (showing "
        f"{min(count, activation.shape[2])}); {zero_text(activation)}. "
        "Bright = strong response; dark = zero, cut by the ReLU."
    )
    # The maps come first, the block's sentence right under them: on a projector the picture is what must show.
    start = start_predictor("inside_model", epoch) if st.session_state.get("inside_beside_start") else None
    if start is None:
        st.image(feature_map_grid(activation, count=count, shared_scale=shared, target_size=96))
    else:
        beside_start_ui(start, image, layer, activation, count, shared, epoch)
    if epoch != 0 and has_start("inside_model"):
        st.toggle(
            "Side by side with epoch 0 (random weights)",
            key="inside_beside_start",
            help="The same layer's maps before any training, beside these: what training changed.",
        )
    st.markdown(f"**Block {block}** · {BLOCK_STORIES[block]}")
    field_ui(predictor.model, image, layer, activation)
    glance_ui(predictor, maps)


FIELD_KEY = "field_map"  # The clickable map's widget key, followed by a count of clicks.
FIELD_COLOR = "#ffd600"  # The chosen square is framed in visualize.outline's yellow, visible on viridis and on photos.


def field_figure(channel_map, chosen):
    """One channel's map (H, W) as a heatmap, the chosen (row, column) framed. Plotly selects scatter points on a
    click, never heatmap cells, so an invisible square marker on every cell carries the click and the hover."""
    height, width = channel_map.shape
    rows, columns = np.indices((height, width))
    invisible = {"marker": {"opacity": 0}}
    figure = go.Figure(
        [
            go.Heatmap(z=channel_map, colorscale="Viridis", showscale=False, hoverinfo="skip"),
            go.Scatter(
                x=columns.ravel(),
                y=rows.ravel(),
                mode="markers",
                customdata=channel_map.ravel(),
                marker={"symbol": "square", "size": max(6, 260 // width), "opacity": 0},
                selected=invisible,
                unselected=invisible,
                hovertemplate="row %{y}, column %{x}: %{customdata:.2f}<extra></extra>",
            ),
        ]
    )
    y, x = chosen
    figure.add_shape(
        type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5, line={"color": FIELD_COLOR, "width": 3}
    )
    axis = {"showgrid": False, "zeroline": False, "fixedrange": True, "showticklabels": False}
    figure.update_xaxes(range=[-0.5, width - 0.5], **axis)
    figure.update_yaxes(range=[height - 0.5, -0.5], scaleanchor="x", **axis)
    figure.update_layout(height=280, width=280, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False)
    return figure


def field_key():
    """The map's widget key, new after each click, so that clicking the framed square again still counts."""
    return f"{FIELD_KEY}_{st.session_state.get(FIELD_KEY + '_clicks', 0)}"


def follow_field_click():
    """Makes a clicked square of the map the chosen one (runs before the page reruns)."""
    points = st.session_state[field_key()]["selection"]["points"]
    if points and isinstance(points[0].get("x"), int) and isinstance(points[0].get("y"), int):
        st.session_state[FIELD_KEY + "_unit"] = (st.session_state[FIELD_KEY + "_shown"], points[0]["y"], points[0]["x"])
        st.session_state[FIELD_KEY + "_clicks"] = st.session_state.get(FIELD_KEY + "_clicks", 0) + 1


def field_ui(model, image, layer, activation):
    """One channel's map beside the image: a click on a square frames the pixels that square depends on."""
    height, width, channels = activation.shape
    st.markdown("**Where a square looks**: click a square of a map to frame the pixels of the image it depends on.")
    chart, picture, words = st.columns([2, 2, 3])
    strongest = int(strongest_channels(activation, 1)[0])
    channel = (
        words.number_input(
            "Channel",
            0,
            channels - 1,
            strongest,
            key="field_channel",
            help="The map to click on; it opens on the strongest one.",
        )
        if not links.view_only()
        else strongest
    )
    # A click chooses a square of the map it was on; any other map opens on its strongest square.
    st.session_state[FIELD_KEY + "_shown"] = (layer, channel)
    shown, *unit = st.session_state.get(FIELD_KEY + "_unit", (None, 0, 0))
    if shown != (layer, channel):
        unit = np.unravel_index(int(activation[..., channel].argmax()), (height, width))
    y, x = (int(value) for value in unit)
    with chart:
        plotly_chart(
            field_figure(activation[..., channel], (y, x)),
            key=field_key(),
            on_select=follow_field_click,
            selection_mode="points",
            config={"displayModeBar": False},
            width="content",
        )
    top, left, bottom, right = receptive_field_box(receptive_field_geometry(model), layer, y, x, image.shape[0])
    picture.image(outline(image, (top, left, bottom, right), 8), width=256)
    covers = (bottom - top, right - left) == image.shape[:2]
    words.markdown(
        f"Row {y}, column {x} of channel {channel} ({feature_stop_label(layer, height, width)}) responds "
        f"**{activation[y, x, channel]:.2f}** (the map's strongest: {activation[..., channel].max():.2f}). "
        + (
            "It depends on **the whole image**: each step through a conv or a pooling layer widens what a square sees."
            if covers
            else f"It depends on the framed **{bottom - top}x{right - left} pixels** of the {image.shape[0]}x"
            f"{image.shape[1]} image and on nothing outside them."
        )
    )


def glance_ui(predictor, maps):
    st.markdown(
        "**Every block at a glance**: the 8 strongest channels of each block's last conv layer, "
        "before pooling, on one colour scale per block"
    )
    for block, column in zip(BLOCKS, st.columns(len(BLOCKS)), strict=True):
        last = [name for name in predictor.activation_names if block_of(name) == block][-1]
        activation = maps[last]
        strongest = strongest_channels(activation, 8)
        # Every block's maps are enlarged to the same 64 pixels and fill their column, so the five
        # grids line up although block 1's maps are 16 times larger than block 5's.
        grid = feature_map_grid(activation[..., strongest], count=8, shared_scale=True, target_size=64, columns=4)
        size = f"{activation.shape[0]}x{activation.shape[1]}"
        column.image(grid, caption=f"Block {block}: {size}, before pooling", width="stretch")
        column.caption(zero_text(activation))


def answer_ui(predictor, image, label, column_left, column_right):
    """The image beside the model's answer, with a word when that answer is a guess."""
    column_left.image(enlarge(image, 3), caption=plain(label), width=96)
    top = predictor.top_k(image, k=1)[0]
    column_right.markdown(f"The model says **{top.name}** ({top.probability:.0%}).")
    guessing_ui(column_right, top.probability, len(predictor.class_names))


def filters_tab_ui(predictor):
    """The Filters tab for the chosen model's file, unless a run saved a newer checkpoint since this session loaded
    it: what is saved for the new file must not be computed with the old weights."""
    path = available_models(runs_dir()).get(st.session_state.get("inside_model"))
    if path is None:
        return
    if newer_checkpoint("inside_model", path):
        st.info(
            "The run has saved a newer checkpoint since you chose it: load it (button above) to see what its "
            "filters want."
        )
        return
    filters_ui(predictor, path)


MAX_SAMPLE_INDEX = 9_999  # Checked against the chosen class's own count once the data is loaded (follow_links).
TABS = ["Architecture", "Feature maps", "Where it looks", "Nearest images", "Filters"]
LINK = (
    links.Param("model", "inside_model", "Model", lambda: list(available_models(runs_dir()))),
    links.Param(
        "class",
        "inside_image_class",
        "Image",
        lambda: list(CLASS_NAMES),
        also=(("inside_image_source", "CIFAR-10 sample"),),
    ),
    links.Param("index", "inside_image_index", number=True, high=MAX_SAMPLE_INDEX),
    links.Param("tab", "inside_tab", "Tabs", lambda: TABS, default=TABS[0]),
    links.Param("epoch", "inside_epoch", "Epoch", lambda: [FINAL_EPOCH, *map(str, range(1001))], default=FINAL_EPOCH),
    links.Param("layer", "feature_layer", "Layer", layer_stops, default="block1_conv1"),
    links.Param("channels", "feature_count", "Channels", number=True, low=1, high=64, default=16),
    links.Param("scale", "feature_shared", "Shared colour scale", lambda: [True, False], default=True),
    links.Param(
        "versus", "inside_attention_compare", "Compared class (Where it looks)", lambda: list(range(len(CLASS_NAMES)))
    ),
)


def follow_links():
    """The view a link names, an older link's translated first, with a sample index past its class's last image
    brought back to the last."""
    follow_old_link()
    links.follow(INSIDE.path, LINK)
    dataset, _ = dataset_or_message()
    name = st.session_state.get("inside_image_class")
    if dataset is not None and name in CLASS_NAMES and "inside_image_index" in st.session_state:
        last = int((dataset.y_val == CLASS_NAMES.index(name)).sum()) - 1
        st.session_state.inside_image_index = max(0, min(int(st.session_state.inside_image_index), last))
    links.share_ui(INSIDE.path, LINK)


# The Feature maps tab's choices, kept while another tab is open: Streamlit forgets the value of a widget that a run
# does not draw, and the page's link (written before the tabs) names them.
MAPS_CHOICES = ("feature_layer", "feature_count", "feature_shared", "inside_beside_start")


def keep_choices(keys):
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render():
    page_header(INSIDE)
    follow_links()
    with folded("Model, epoch and image"):
        columns = st.columns([1, 1])
        with columns[0]:
            predictor, epoch = epoch_choice_ui(
                model_choice_ui("inside_model", show=links.shows("model")), "inside_model"
            )
        with columns[1]:
            chosen = image_choice_ui("inside_image", show=links.shows("class"))
    links.write(INSIDE.path, LINK, {param.name: st.session_state.get(param.key) for param in LINK})
    if predictor is None:
        return
    # Only the open tab is drawn (`.open` needs the key): a closed tab's pictures, table and chart would still cost
    # every student's browser its drawing, and the server a few more.
    architecture_tab, maps_tab, where_tab, near_tab, filters_tab = st.tabs(TABS, key="inside_tab", on_change="rerun")
    if architecture_tab.open:
        with architecture_tab:
            architecture_ui(predictor.model)
    if not maps_tab.open:
        keep_choices(MAPS_CHOICES)
    for tab, what in ((maps_tab, "its feature maps"), (where_tab, "where it looks"), (near_tab, "its nearest images")):
        with tab:
            if chosen is None and tab.open:
                st.info(f"Choose a CIFAR-10 sample or upload an image to see {what}.")
    if chosen is not None:
        image, label = chosen
        if maps_tab.open:
            with maps_tab:
                feature_maps_ui(predictor, image, label, epoch)
        if where_tab.open:
            with where_tab:
                attention_ui(predictor, image, key="inside_attention")
        if near_tab.open:
            with near_tab:
                if epoch is not None:
                    earlier_epoch_note("Nearest images")
                else:
                    neighbours_ui(predictor, image, available_models(runs_dir())[st.session_state["inside_model"]])
    with filters_tab:
        if filters_tab.open:
            if epoch is None:
                filters_tab_ui(predictor)
            else:
                earlier_filters_ui(predictor, epoch)
