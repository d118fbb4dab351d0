"""Data: browse CIFAR-10 by class, click a sample to look at it closely, see what augmentation does."""

import base64
import io

import numpy as np
import streamlit as st
from PIL import Image

from app_pages import links
from app_pages.caches import dataset_or_message
from app_pages.pages import DATA, page_header
from vgg.data.cifar10 import CLASS_NAMES, CUTOUT_SIZES, augment_examples, colourfulness, draw_per_class
from vgg.explain.visualize import colour_channel, enlarge

AUGMENTED_COPIES = 7  # With the original, two rows of four, as large as the close-up's pictures.
GRID_ROW_HEIGHT = 64  # Pixels: a picture of about 56x56, as wide as a column of ten on a 1024x768 projector.
MAX_PER_CLASS = 12  # Twelve columns still fit a 1024x768 projector without scrolling the grid sideways.
MAX_PAGE = 500
# What a link to this page names (app_pages/links.py); `image` is the picked cell as <class>:<column>.
LINK = (
    links.Param("classes", "data_classes", "Classes", lambda: list(CLASS_NAMES), many=True, default=list(CLASS_NAMES)),
    links.Param(
        "per_class", "data_per_class", "Images per class", lambda: list(range(1, MAX_PER_CLASS + 1)), default=10
    ),
    links.Param("draw", "data_seed", number=True, default=0),
    links.Param("page", "data_page", "Page and Reshuffle", number=True, low=1, high=MAX_PAGE, default=1),
    links.Param(
        "image",
        "data_link_pick",
        choices=lambda: [f"{name}:{number}" for name in CLASS_NAMES for number in range(1, MAX_PER_CLASS + 1)],
    ),
    links.Param("cutout", "cutout_size", "Cutout and New random copies", lambda: list(CUTOUT_SIZES), default=0),
    links.Param("copies", "augment_draw", number=True, default=0),
)


def purpose_ui(dataset):
    total = len(dataset.y_train) + len(dataset.y_val)
    height, width = dataset.x_train.shape[1:3]
    st.markdown(
        f"{total:,} tiny photos in {len(dataset.class_names)} classes, {width}x{height} pixels each: the network "
        f"only ever sees these pixels. {len(dataset.y_train):,} of them train it; {len(dataset.y_val):,} are "
        "held back to check it on photos it has never seen."
    )


def browse_controls_ui(class_names):
    """Returns (chosen classes in the dataset's order, images per class, seed, page); a link may hide them."""
    for key, start in (("data_classes", list(class_names)), ("data_per_class", 10), ("data_seed", 0), ("data_page", 1)):
        st.session_state.setdefault(key, start)
    if links.shows("classes"):
        st.pills("Classes", class_names, selection_mode="multi", key="data_classes")
    columns = st.columns([2, 1, 1], vertical_alignment="bottom")
    if links.shows("per_class"):
        columns[0].slider("Images per class", 1, MAX_PER_CLASS, key="data_per_class")
    if links.shows("page"):
        if columns[1].button("Reshuffle", help="Show another random draw of each class"):
            st.session_state.data_seed += 1
            st.session_state.data_page = 1
        # Counted from 1, as the grid's columns are.
        columns[2].number_input(
            "Page", 1, MAX_PAGE, key="data_page", help="Page through the class in order of the draw"
        )
    picked = st.session_state.data_classes
    return (
        [name for name in class_names if name in picked],
        st.session_state.data_per_class,
        st.session_state.data_seed,
        int(st.session_state.data_page) - 1,
    )


def link_values(classes, per_class, seed, page, chosen=None):
    """What the address keeps of this page's view (app_pages/links.py)."""
    return {
        "classes": classes,
        "per_class": per_class,
        "draw": seed,
        "page": page + 1,
        "image": None if chosen is None else f"{chosen[0]}:{chosen[1]}",
        "cutout": st.session_state.get("cutout_size", 0),
        "copies": st.session_state.get("augment_draw", 0),
    }


def class_counts_ui(dataset):
    counts = {
        "class": list(dataset.class_names),
        "training images": np.bincount(dataset.y_train, minlength=len(dataset.class_names)).tolist(),
        "validation images": np.bincount(dataset.y_val, minlength=len(dataset.class_names)).tolist(),
    }
    st.dataframe(counts, hide_index=True)


def _data_url(image):
    # 4x with crisp pixels: the table scales pictures down smoothly but would blur a 32x32 one scaled up.
    buffer = io.BytesIO()
    Image.fromarray(enlarge(image, 4)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _default_cell(dataset, grid):
    """The cell a link picked, else the most colourful car in the grid (else the most colourful image): its R, G
    and B channels differ."""
    name, _, number = (st.session_state.get("data_link_pick") or "").partition(":")
    if name in grid.index and number in grid.columns and grid.loc[name, number] is not None:
        return [list(grid.index).index(name), number]
    rows = [row for row, name in enumerate(grid.index) if name == "automobile" and grid.iloc[row].notna().any()]
    rows = rows or range(len(grid))
    cells = [(row, column) for row in rows for column in grid.columns if grid.iloc[row][column] is not None]
    scores = colourfulness(dataset.x_train[[int(grid.iloc[row][column]) for row, column in cells]])
    return list(cells[int(np.argmax(scores))])


def sample_grid_ui(dataset, classes, per_class, seed, page):
    """One row per class, columns numbered from 1; returns (class, column, image index) of the picked image, or None."""
    import pandas as pd  # Here: the page's heading and controls paint while pandas (about a second) loads.

    labels = [dataset.class_names.index(name) for name in classes]
    draws = draw_per_class(dataset.y_train, labels, per_class, seed, page)
    columns = [str(number) for number in range(1, per_class + 1)]
    grid = pd.DataFrame(
        [[int(index) for index in draws[label]] + [None] * (per_class - len(draws[label])) for label in labels],
        index=classes,
        columns=columns,
        dtype=object,
    )
    if grid.isna().all(axis=None):
        st.info("This page is past the last image of every class: go back a page.")
        return None
    default = _default_cell(dataset, grid)
    pictures = grid.map(lambda index: None if index is None else _data_url(dataset.x_train[index]))
    st.caption("Click an image to see it up close below; double-click it to enlarge it here.")
    event = st.dataframe(
        pictures,
        column_config={column: st.column_config.ImageColumn(column) for column in columns},
        row_height=GRID_ROW_HEIGHT,
        height="content",
        on_select="rerun",
        selection_mode="single-cell",
        selection_default={"selection": {"cells": [default]}},
        # A new grid is a new table: the pick of the old one would name another image in the same place.
        key=f"data_grid-{seed}-{page}-{per_class}-{'-'.join(classes)}-{st.session_state.get('data_link_pick')}",
    )
    cells = [(row, column) for row, column in event.selection.cells if row < len(grid) and column in grid.columns]
    # An empty cell (past the last image of its class) picks nothing, so the close-up keeps the default.
    row, column = next(((row, column) for row, column in cells if grid.iloc[row][column] is not None), default)
    return classes[row], int(column), int(grid.iloc[row][column])


def sample_closeup_ui(dataset, chosen):
    name, number, index = chosen
    st.subheader(f"Up close: {name} {number}")
    st.caption(f"Row {name}, column {number} of the grid. Click any image in the grid to see it here.")
    image = dataset.x_train[index]
    large, red, green, blue = st.columns(4)
    large.image(enlarge(image, 8), caption=f"{name}: 32x32 pixels, shown 8x")
    for column, channel, label in ((red, 0, "Red"), (green, 1, "Green"), (blue, 2, "Blue")):
        column.image(
            enlarge(colour_channel(image, channel), 8),
            caption=f"{label} channel (mean {image[..., channel].mean():.0f})",
        )


def augmentation_ui(image):
    st.subheader("Augmentation")
    st.markdown(
        "Each training step sees a random 32x32 crop of the image padded by 4 black pixels, flipped "
        "left-right half the time: the network learns that a shifted or mirrored cat is still a cat. With "
        "cutout, a random square is also blacked out, so it cannot rely on one part of the cat either."
    )
    controls = st.columns([1, 2], vertical_alignment="bottom")
    st.session_state.setdefault("augment_draw", 0)
    st.session_state.setdefault("cutout_size", 0)
    if links.shows("cutout"):
        if controls[0].button(
            "New random copies", help="Crop, flip and cut out the image anew, as the next epoch would"
        ):
            st.session_state.augment_draw += 1
        controls[1].select_slider("Cutout square (pixels)", CUTOUT_SIZES, key="cutout_size")
    cutout_size = st.session_state.cutout_size
    copies, changes = augment_examples(image, AUGMENTED_COPIES, st.session_state.augment_draw, cutout_size)
    pictures = [image, *copies]
    words = ["**original**", *("  \n".join(done) or "unchanged" for done in changes)]
    for start in range(0, len(pictures), 4):
        for column, picture, text in zip(
            st.columns(4), pictures[start : start + 4], words[start : start + 4], strict=False
        ):
            column.image(enlarge(picture, 8))
            column.markdown(text)


def render():
    page_header(DATA)
    dataset, message = dataset_or_message()
    if dataset is None:
        st.warning(message)
        return
    links.follow(DATA.path, LINK)
    links.share_ui(DATA.path, LINK)
    purpose_ui(dataset)
    classes, per_class, seed, page = browse_controls_ui(list(dataset.class_names))
    links.write(DATA.path, LINK, link_values(classes, per_class, seed, page))
    if not classes:
        st.info("Pick at least one class to see its images.")
        return
    chosen = sample_grid_ui(dataset, classes, per_class, seed, page)
    with st.expander("How many images each class has"):
        class_counts_ui(dataset)
    if chosen is not None:
        sample_closeup_ui(dataset, chosen)
        augmentation_ui(dataset.x_train[chosen[2]])
    links.write(DATA.path, LINK, link_values(classes, per_class, seed, page, chosen))
