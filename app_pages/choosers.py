"""The choosers several pages share: a model (with the checkpoint version this session pinned), a validation image
by class and number, and an uploaded photo."""

import hashlib
import pathlib

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.caches import dataset_or_message, load_predictor, pinned_version_key, runs_dir
from app_pages.plain import plain
from app_pages.streamlit_patches import refusal_for
from vgg.core.errors import UserError
from vgg.core.files import file_version
from vgg.data import uploads
from vgg.data.cifar10 import CLASS_NAMES
from vgg.data.uploads import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from vgg.runs.record import ModelRecord, available_models, model_names


def model_choice_ui(key, show=True):
    """Lets the user pick a model; returns a Predictor, or None after saying why there is none. Unless `show`
    (a link hid the chooser), the model is the one session state names, and only its name is shown."""
    models, names = available_models(runs_dir()), model_names(runs_dir())
    if not models:
        st.info(
            "No trained model yet: train one on the Train page (even one epoch of the cpu preset), and it appears here."
        )
        return None
    if show:
        label = st.selectbox(
            "Model", list(models), key=key, format_func=names.get, help="The shipped model, or any run's saved model."
        )
    else:
        label = st.session_state.get(key) if st.session_state.get(key) in models else next(iter(models))
        st.session_state[key] = label
        st.markdown(f"**Model**: {plain(names[label])}")
    path = models[label]
    summary = ModelRecord.of(path).summary()
    if summary:
        st.caption(plain(summary))
    try:
        return load_predictor(str(path), pinned_version(key, path))
    except (UserError, OSError) as error:
        st.error(plain(error))
        return None


def pinned_version(key, path):
    """The version (modification time) of `path` this session looks at. A training run's checkpoint changes
    every epoch: each session keeps the one it opened until it asks for the newer one, so the server loads
    a model when someone wants it, not 30 sessions' worth at every epoch."""
    current = file_version(path)
    if current is None:
        raise UserError(f"{pathlib.Path(path).name} is gone: its run was deleted or archived; choose another model.")
    pinned_key = pinned_version_key(key, path)
    pinned = st.session_state.setdefault(pinned_key, current)
    if pinned != current and st.button(
        "Load the newer checkpoint",
        key=f"{key}_reload",
        help="The run has saved a newer checkpoint since you chose it.",
    ):
        st.session_state[pinned_key] = pinned = current
    return pinned


@st.cache_data(max_entries=1024, show_spinner=False)
def content_hash(file_id, _content):
    """The SHA-256 of an upload, once per upload's id (new for each file a browser sends): a rerun does not hash
    its 20 MB again."""
    return hashlib.sha256(_content).hexdigest()


@st.cache_data(max_entries=256, show_spinner=False)
def decode_upload(content_sha, _content, name):
    """(preview at most 256 px, 32x32 input, original (width, height)) of an upload, or the sentence saying why
    not; cached by content, so 30 students uploading the class's photo decode it once."""
    try:
        image, pixels = uploads.load_upload(_content, name)
    except UserError as error:
        return str(error)
    size = image.info.get("original_size", image.size)
    image.thumbnail((256, 256))
    return np.asarray(image), pixels, size


def read_upload(uploaded_file):
    """(preview, 32x32 input, original size) for an uploaded file, or None after showing one sentence."""
    content = uploaded_file.getvalue()
    decoded = decode_upload(content_hash(uploaded_file.file_id, content), content, uploaded_file.name)
    if isinstance(decoded, str):
        st.error(plain(decoded))
        return None
    return decoded


def upload_refusal_ui():
    """The sentence refusing this browser's last upload (its share of the server's memory is full), if any."""
    context = get_script_run_ctx()
    refusal = context and refusal_for(context.session_id)
    if refusal:
        st.warning(refusal)


def sample_position(labels, class_name, number):
    """The position among the validation images `labels` of sample `number` of `class_name` (its last sample
    when `number` is past it), as the image chooser counts them."""
    indices = (labels == CLASS_NAMES.index(class_name)).nonzero()[0]
    return int(indices[min(int(number), len(indices) - 1)])


def sample_of(labels, position):
    """(class name, sample number) of the validation image at `position`: the inverse of `sample_position`."""
    label = int(labels[position])
    return CLASS_NAMES[label], int(np.count_nonzero(labels[:position] == label))


def image_choice_ui(key, show=True):
    """A CIFAR-10 validation image (by class and index) or an upload; returns (32x32 uint8 image,
    label text) or None. Unless `show` (a link hid the choosers), the sample session state names is shown."""
    if not show:
        return hidden_sample(key)
    source = st.radio("Image", ["CIFAR-10 sample", "Upload"], horizontal=True, key=f"{key}_source")
    if source == "Upload":
        uploaded = st.file_uploader(
            "An image (PNG, JPEG, WebP, GIF, BMP)",
            type=UPLOAD_TYPES,
            key=f"{key}_upload",
            max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        )
        upload_refusal_ui()
        if uploaded is None:
            return None
        decoded = read_upload(uploaded)
        return None if decoded is None else (decoded[1], uploaded.name)
    dataset, message = dataset_or_message()
    if dataset is None:
        st.info(message)
        return None
    columns = st.columns(2)
    class_name = columns[0].selectbox("Class", CLASS_NAMES, key=f"{key}_class")
    count = int((dataset.y_val == CLASS_NAMES.index(class_name)).sum())
    number = columns[1].number_input("Sample", 0, count - 1, 0, key=f"{key}_index")
    position = sample_position(dataset.y_val, class_name, number)
    return dataset.x_val[position], f"validation image: {class_name} #{number}"


def hidden_sample(key):
    """The validation image `{key}_class` and `{key}_index` name in session state (as a link set them), and its
    name, without drawing a chooser; None after one sentence when there is no data."""
    dataset, message = dataset_or_message()
    if dataset is None:
        st.info(message)
        return None
    class_name = st.session_state.get(f"{key}_class")
    class_name = class_name if class_name in CLASS_NAMES else CLASS_NAMES[0]
    position = sample_position(dataset.y_val, class_name, st.session_state.get(f"{key}_index") or 0)
    number = sample_of(dataset.y_val, position)[1]
    st.markdown(f"**Image**: validation image {class_name} #{number}")
    return dataset.x_val[position], f"validation image: {class_name} #{number}"
