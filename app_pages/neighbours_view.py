"""What an image is near, block by block: a view that Predict and Inside VGG16 draw under an image.

Its index of training images' features comes from vgg.explain.neighbours: built once per model file (under a progress
bar), saved, then read back once per server for every session; each later image costs one small forward pass
and five matrix products. It draws no widgets, so one page can show it under several images.
"""

import pathlib

import numpy as np
import streamlit as st

from app_pages.caches import dataset_for
from app_pages.computed import computed_ui, model_key_ui, saved, still_training_ui
from app_pages.picture_grid import picture_grid
from app_pages.plain import plain
from vgg.core.errors import UserError
from vgg.data.cifar10 import default_data_dir
from vgg.explain.cache import CacheKey
from vgg.explain.evaluation import split_for
from vgg.explain.neighbours import (
    NEIGHBOURS,
    VOTING_BLOCK,
    calibration_subset,
    image_features,
    index_key,
    index_of,
    indexed,
    load_saved,
    query,
)

# Thumbnails of at most 80 px: a row of 8 beside the block's text fits a 1024x768 projector, shrinking to fit.
THUMBNAIL_WIDTH = 80
# What a block's nearest training images tend to have in common with the image (measured on the shipped model:
# 35% of block 1's neighbours share a validation image's class, 92% of block 5's; BENCHMARKS.md, neighbours).
SHARED = {
    1: "colours and brightness",
    2: "colours and textures",
    3: "textures and simple shapes",
    4: "shapes and parts, often the class",
    5: "the class",
}


@st.cache_resource(show_spinner=False, max_entries=4)
def subset_and_id(data_dir, validation_size, seed, _dataset):
    """The indexed training images' positions and their digest, computed once per data split."""
    return indexed(_dataset, (validation_size, seed))


@st.cache_resource(show_spinner=False, max_entries=2)
def read_back(file, model_sha256, data, _dataset, _indices):
    """The index saved in `file`, read once per server and shared by every session; NotSaved when there is none."""
    return saved(load_saved(CacheKey(model_sha256, data, pathlib.Path(file)), _dataset, _indices))


def index_ui(predictor, model_path, dataset, split):
    """The model's index: read back, or built the first time under a progress bar; None after one sentence."""
    indices, data = subset_and_id(default_data_dir(), *split, dataset)
    key = model_key_ui(lambda: index_key(model_path, data), model_path)
    if key is None:
        return None
    calibrating = len(calibration_subset(dataset))
    return computed_ui(
        f"the features of {len(indices):,} training and {calibrating:,} validation images",
        lambda progress: index_of(key, dataset, indices, lambda: predictor.model, progress),
        lambda: read_back(str(key.file), key.model_sha256, key.detail, dataset, indices),
    )


def answers_ui(predictor, pixels, neighbours):
    """The image, the network's softmax and the voting block's neighbours' vote, side by side."""
    names = predictor.class_names
    top = predictor.top_k(pixels, k=3)
    picture, softmax, vote = st.columns([1, 2, 2])
    picture.image(pixels, caption="The image", width=96, output_format="PNG")
    box = softmax.container(border=True)
    box.markdown("**The network's answer** (softmax)")
    box.markdown("  \n".join(f"{row.name}: {row.probability:.0%}" for row in top))
    box = vote.container(border=True)
    box.markdown(f"**Block {VOTING_BLOCK}'s {NEIGHBOURS} nearest training images vote**")
    if neighbours.blocks[VOTING_BLOCK - 1].silent:
        # A dead block (the blog's recipe) is equally near every image: its "neighbours" are arbitrary.
        box.markdown(f"No vote: every number of block {VOTING_BLOCK} is zero for this image.")
        return top[0]
    order = np.argsort(-neighbours.vote, kind="stable")[:3]
    total = int(neighbours.vote.sum())
    box.markdown(
        "  \n".join(f"{names[label]}: {neighbours.vote[label]} of {total}" for label in order if neighbours.vote[label])
    )
    return top[0]


def block_ui(block, dataset, answer, channels):
    """One row: what the block's neighbours tend to share, and their thumbnails with their classes."""
    text, pictures = st.columns([1, 3], vertical_alignment="center")
    text.markdown(f"**Block {block.block}** ({channels} numbers per image)")
    if block.silent:
        text.caption("Every number is zero for this image, so no training image is nearer than another.")
        return
    same = int((block.labels == answer.index).sum())
    text.caption(
        f"They tend to share {SHARED[block.block]}: {same} of {len(block.labels)} are {answer.name}, "
        "the network's answer."
    )
    thumbnails = [dataset.x_train[position] for position in block.indices]
    captions = [dataset.class_names[label] for label in block.labels]
    pictures.html(picture_grid(thumbnails, captions, len(thumbnails), max_width=THUMBNAIL_WIDTH))


def model_index_ui(predictor, model_path):
    """(index, dataset) of a model's training images, or (None, None) after one sentence when there are none."""
    if still_training_ui(model_path, "its nearest training images"):
        return None, None
    split = split_for(model_path)
    dataset, message = dataset_for(*split)
    if dataset is None:
        st.info(message)
        return None, None
    index = index_ui(predictor, model_path, dataset, split)
    return (index, dataset) if index is not None else (None, None)


def neighbours_ui(predictor, pixels, model_path):
    """For one 32x32 image, its nearest training images in each block's pooled features, one row per block,
    and block 5's vote beside the softmax; draws one sentence instead when there are no training images."""
    index, dataset = model_index_ui(predictor, model_path)
    if index is None:
        return
    try:
        neighbours = query(index, image_features(predictor.model, pixels))
    except UserError as error:
        st.error(plain(error))
        return
    st.markdown(f"**Its {NEIGHBOURS} nearest of {len(index.indices):,} training images, block by block**")
    answer = answers_ui(predictor, pixels, neighbours)
    st.caption(
        "Each block's output, averaged over the image, is a list of numbers; the training images whose "
        "lists point the same way are its nearest."
    )
    for block, channels in zip(neighbours.blocks, index.channels, strict=True):
        block_ui(block, dataset, answer, channels)
