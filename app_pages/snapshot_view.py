"""The epoch slider of the Inside VGG16 page: a model whose run kept snapshots (vgg/runs/snapshots.py) can be
shown as it was after 0, 1, 2, 4, ... epochs. Each epoch's Predictor is cached per server (app_pages/caches.py), so
moving back to an epoch seen before costs nothing."""

import pathlib

import streamlit as st

from app_pages import links
from app_pages.caches import load_epoch_predictor, pinned_version_key, runs_dir
from app_pages.filters_view import first_layer_ui
from app_pages.plain import plain
from vgg.core.errors import UserError
from vgg.core.files import file_version
from vgg.explain.visualize import feature_map_grid, zero_channels
from vgg.runs.record import available_models
from vgg.runs.snapshots import epochs_of, file_epoch, logged_accuracies, why_none

FINAL_EPOCH = "final"


def epoch_stops(path):
    """{slider label: epoch, or None for the model file itself}: the snapshots before the file's epoch, then the
    file; empty when there are no snapshots."""
    epochs = epochs_of(path)
    if not epochs:
        return {}
    last = file_epoch(path)
    stops = {
        f"{epoch} (random weights)" if epoch == 0 else str(epoch): epoch
        for epoch in epochs
        if last is None or epoch < last
    }
    what = "latest checkpoint" if pathlib.Path(path).name == "checkpoint.keras" else "this model"
    return stops | {what if last is None else f"{last} ({what})": None}


def epoch_choice_ui(predictor, model_key):
    """(the Predictor of the chosen epoch, that epoch or None for the model file itself). A slider when the model
    chosen under `model_key` has snapshots, else a caption saying why it has none."""
    path = available_models(runs_dir()).get(st.session_state.get(model_key))
    if predictor is None or path is None:
        return predictor, None
    stops = epoch_stops(path)
    if not stops:
        st.caption(why_none(path))
        return predictor, None
    # Named by the epoch's number, or FINAL_EPOCH for the model file itself, in session state and in links.
    labels = {FINAL_EPOCH if epoch is None else str(epoch): label for label, epoch in stops.items()}
    asked = st.session_state.setdefault("inside_epoch", FINAL_EPOCH)
    if asked not in labels:
        st.caption(f"This model kept no snapshot of epoch {asked}, so it shows its last one.")
        st.session_state.inside_epoch = FINAL_EPOCH
    if links.shows("epoch"):
        st.select_slider(
            "Epoch",
            list(labels),
            key="inside_epoch",
            format_func=labels.get,
            help="The model as it was after this many epochs of training; 0 is before any.",
        )
    epoch = stops[labels[st.session_state.inside_epoch]]
    epoch_caption(path, epoch)
    if epoch is None:
        return predictor, None
    version = st.session_state.get(pinned_version_key(model_key, path)) or file_version(path)
    try:
        return load_epoch_predictor(str(path), version, epoch), epoch
    except UserError as error:
        st.error(plain(error))
        return predictor, None


def zero_text(activation):
    zero, total = zero_channels(activation)
    return f"{zero} of {total} channels are zero for this image"


def has_start(model_key):
    """Whether the model chosen under `model_key` kept a snapshot of its random start (epoch 0)."""
    path = available_models(runs_dir()).get(st.session_state.get(model_key))
    return path is not None and 0 in epochs_of(path)


def start_predictor(model_key, epoch):
    """The Predictor of the chosen model's epoch-0 snapshot (its random start), for a side-by-side picture; None
    when it kept none or epoch 0 is what is shown already."""
    if epoch == 0 or not has_start(model_key):
        return None
    path = available_models(runs_dir())[st.session_state[model_key]]
    version = st.session_state.get(pinned_version_key(model_key, path)) or file_version(path)
    try:
        return load_epoch_predictor(str(path), version, 0)
    except UserError as error:
        st.error(plain(error))
        return None


def beside_start_ui(start, image, layer, activation, count, shared, epoch):
    """The chosen layer's maps at epoch 0 (random weights) beside the shown model's, on the same channels."""
    columns = st.columns(2)
    before = start.feature_maps(image)[layer]
    shown = "this model" if epoch is None else f"epoch {epoch}"
    for column, maps, caption in (
        (columns[0], before, "Epoch 0: random weights, before any training"),
        (columns[1], activation, f"After training: {shown}"),
    ):
        column.image(
            feature_map_grid(maps, count=count, shared_scale=shared, target_size=64),
            caption=f"{caption} ({zero_text(maps)})",
        )


def epoch_caption(path, epoch):
    """What the chosen earlier epoch is: the random start, or how well the run scored then."""
    if epoch == 0:
        st.caption("Epoch 0: the random weights the run started from, before any training; its answers are guesses.")
    elif epoch is not None and epoch in (accuracies := logged_accuracies(path)):
        st.caption(
            f"After epoch {epoch}: {accuracies[epoch]:.1%} of the validation images right (each image alone, "
            "as the run logged it)."
        )


def earlier_epoch_note(what):
    """Says that `what` is drawn for the model file only, not for an earlier epoch."""
    st.info(f"{what} are computed for the model file only: move the Epoch slider to its last stop to see them.")


def earlier_filters_ui(predictor, epoch):
    """The Filters tab at an earlier epoch: the first layer's filters, which need no computing."""
    if epoch == 0:
        st.warning(
            "Epoch 0: these filters are random numbers; whatever they are sorted into below, they have "
            "learned nothing yet.",
            icon=":material/casino:",
        )
    first_layer_ui(predictor.model)
    earlier_epoch_note("The deeper layers' and the classes' pictures")
