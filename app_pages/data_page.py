"""Data: browse CIFAR-10 by class, look closely at one sample, see what augmentation does."""

import numpy as np
import streamlit as st

from app_pages.common import dataset_or_message
from vgg.data import CLASS_NAMES, CUTOUT_SIZES, augment_batch
from vgg.visualize import enlarge, tile


def browse_controls_ui():
    """Returns (chosen classes, images per class, seed, page)."""
    columns = st.columns([3, 1, 1, 1])
    classes = columns[0].multiselect("Classes", CLASS_NAMES, default=list(CLASS_NAMES))
    per_class = columns[1].slider("Images per class", 1, 16, 10)
    if "data_seed" not in st.session_state:
        st.session_state.data_seed = 0
    if columns[2].button("Reshuffle", help="Show another random draw of each class"):
        st.session_state.data_seed += 1
        st.session_state.data_page = 0
    page = columns[3].number_input("Page", 0, 499, key="data_page", help="Page through the class in order of the draw")
    return classes, per_class, st.session_state.data_seed, int(page)


def class_counts_ui(dataset):
    counts = {
        "class": list(dataset.class_names),
        "training images": np.bincount(dataset.y_train, minlength=10).tolist(),
        "validation images": np.bincount(dataset.y_val, minlength=10).tolist(),
    }
    st.dataframe(counts, hide_index=True)


def sample_grid_ui(dataset, classes, per_class, seed, page):
    rng = np.random.default_rng(seed)
    orders = {label: rng.permutation(np.flatnonzero(dataset.y_train == label)) for label in range(len(CLASS_NAMES))}
    for name in classes:
        order = orders[CLASS_NAMES.index(name)]
        chosen = order[page * per_class : (page + 1) * per_class]
        label_column, grid_column = st.columns([1, 8], vertical_alignment="center")
        label_column.markdown(f"**{name}**")
        if len(chosen):
            # 3x nearest-neighbour enlargement keeps CIFAR-10's pixels crisp instead of blurred.
            grid_column.image(tile([enlarge(image, 3) for image in dataset.x_train[chosen]], columns=per_class, gap=4))


def sample_closeup_ui(dataset):
    st.subheader("One sample up close")
    columns = st.columns([1, 1, 1, 1])
    name = columns[0].selectbox("Class", CLASS_NAMES, key="closeup_class")
    indices = np.flatnonzero(dataset.y_train == CLASS_NAMES.index(name))
    number = columns[1].number_input("Image number", 0, len(indices) - 1, 0, key="closeup_index")
    augmentation_seed = columns[2].number_input("Augmentation seed", 0, 10_000, 0, key="augment_seed")
    cutout_size = columns[3].select_slider("Cutout square (pixels)", CUTOUT_SIZES, value=0, key="cutout_size")
    image = dataset.x_train[indices[int(number)]]

    large, red, green, blue = st.columns(4)
    large.image(enlarge(image, 8), caption=f"{name}: 32x32 pixels, shown 8x")
    for column, channel, label in ((red, 0, "Red"), (green, 1, "Green"), (blue, 2, "Blue")):
        only = np.zeros_like(image)
        only[..., channel] = image[..., channel]
        column.image(enlarge(only, 8), caption=f"{label} channel (mean {image[..., channel].mean():.0f})")

    st.markdown(
        "**Augmentation preview.** Each training step sees a random 32x32 crop of the image padded by "
        "4 black pixels, flipped left-right half the time: the network learns that a shifted or mirrored "
        "cat is still a cat. With cutout, a random square is also blacked out, so it cannot rely on one "
        "part of the cat either."
    )
    copies = np.repeat(image[None], 8, axis=0)
    augmented = augment_batch(copies, [int(augmentation_seed), 0], int(cutout_size)).numpy()
    st.image(tile([enlarge(picture, 4) for picture in augmented], columns=8, gap=6))


def render():
    st.title("CIFAR-10")
    dataset, message = dataset_or_message()
    if dataset is None:
        st.warning(message)
        return
    st.caption(f"Source: {dataset.source}. {len(dataset.y_train):,} training and {len(dataset.y_val):,} validation images.")
    classes, per_class, seed, page = browse_controls_ui()
    sample_grid_ui(dataset, classes, per_class, seed, page)
    with st.expander("Images per class"):
        class_counts_ui(dataset)
    sample_closeup_ui(dataset)
