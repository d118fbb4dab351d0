"""What several pages share: cached data and models, the model chooser, the image chooser.

Heavy imports (TensorFlow) happen inside the cached functions, so the first page paints
before TensorFlow has loaded.
"""

import contextlib
import hashlib
import os
import urllib.parse

import numpy as np
import streamlit as st

from vgg.core.errors import UserError
from vgg.data.cifar10 import CLASS_NAMES, DataError, default_data_dir
from vgg.data.uploads import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from vgg.runs.folder import default_runs_dir
from vgg.runs.record import ModelRecord, available_models


def runs_dir():
    return default_runs_dir()


@st.cache_resource
def start_queue_pump(folder):
    """One thread per server that starts queued runs when a slot frees (vgg/runs/queue.py): a run killed hard,
    or a queue left by a restart, moves on without anyone pressing a button."""
    from vgg.runs.queue import Pump

    pump = Pump(folder)
    pump.start()
    return pump


@st.cache_resource(show_spinner="Loading CIFAR-10…")
def load_dataset(data_dir):
    from vgg.data.cifar10 import load_cifar10

    return load_cifar10(data_dir)


@st.cache_resource(show_spinner="Loading CIFAR-10…", max_entries=2)
def load_split(data_dir, validation_size, seed):
    from vgg.data.cifar10 import load_cifar10

    return load_cifar10(data_dir, validation_size, seed)


def dataset_for(validation_size, seed):
    """(dataset, None) for a split, sharing the other pages' copy when it is theirs; else (None, one sentence)."""
    from vgg.explain.evaluation import DEFAULT_SPLIT

    data_dir = default_data_dir()
    try:
        if data_dir is None or (validation_size, seed) == DEFAULT_SPLIT:
            return load_dataset(data_dir), None
        return load_split(data_dir, validation_size, seed), None
    except DataError as error:
        return None, str(error)


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_split_id(data_dir, validation_size, seed, _dataset):
    from vgg.explain.evaluation import split_id

    return split_id(_dataset, validation_size, seed)


def dataset_or_message():
    """(dataset, None) when data is available, else (None, one sentence saying how to get it)."""
    try:
        return load_dataset(default_data_dir()), None
    except DataError as error:
        return None, str(error)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_predictor(path, modified_time):
    """A Predictor for a model file; `modified_time` makes a re-saved checkpoint load anew."""
    from vgg.explain.predictor import Predictor
    from vgg.model.device import limit_serving_threads

    limit_serving_threads()
    return Predictor.for_file(path, runs_dir(), version=modified_time)


@st.cache_resource(show_spinner="Loading the model at that epoch…", max_entries=8)
def load_epoch_predictor(path, modified_time, epoch):
    """A Predictor for a model file with the weights of its snapshot of `epoch` (vgg/runs/snapshots.py)."""
    from vgg.explain.predictor import Predictor, load_model
    from vgg.model.device import limit_serving_threads
    from vgg.runs.snapshots import load_epoch

    limit_serving_threads()
    model = load_epoch(load_model(path, runs_dir()), path, epoch)
    record = ModelRecord.of(path)
    return Predictor(model, flip_average=record.flip_average, class_names=record.class_names,
                     source=f"{os.path.realpath(path)}@{modified_time}#epoch-{epoch}")


def model_choice_ui(key, show=True):
    """Lets the user pick a model; returns a Predictor, or None after saying why there is none. Unless `show`
    (a link hid the chooser), the model is the one session state names, and only its name is shown."""
    models = available_models(runs_dir())
    if not models:
        st.info(
            "No trained model yet: train one on the Train page (even one epoch of the cpu preset), "
            "and it appears here."
        )
        return None
    if show:
        label = st.selectbox("Model", list(models), key=key, help="The shipped model, or any run's saved model.")
    else:
        label = st.session_state.get(key) if st.session_state.get(key) in models else next(iter(models))
        st.session_state[key] = label
        st.markdown(f"**Model**: {label}")
    path = models[label]
    summary = ModelRecord.of(path).summary()
    if summary:
        st.caption(summary)
    try:
        return load_predictor(str(path), pinned_version(key, path))
    except (UserError, OSError) as error:
        st.error(str(error))
        return None


def pinned_version(key, path):
    """The version (modification time) of `path` this session looks at. A training run's checkpoint changes
    every epoch: each session keeps the one it opened until it asks for the newer one, so the server loads
    a model when someone wants it, not 30 sessions' worth at every epoch."""
    current = os.path.getmtime(path)
    pinned_key = f"{key}_version_{path}"
    pinned = st.session_state.setdefault(pinned_key, current)
    if pinned != current and st.button("Load the newer checkpoint", key=f"{key}_reload",
                                       help="The run has saved a newer checkpoint since you chose it."):
        st.session_state[pinned_key] = pinned = current
    return pinned


@st.cache_data(max_entries=256, show_spinner=False)
def decode_upload(digest, _content, name):
    """(preview at most 256 px, 32x32 input, original (width, height)) of an upload, or the sentence saying why
    not; cached by the file's SHA-256, so a rerun, another session or the same photo twice decodes it once."""
    from vgg.data.uploads import load_upload

    try:
        image, pixels = load_upload(_content, name)
    except UserError as error:
        return str(error)
    size = image.info.get("original_size", image.size)
    image.thumbnail((256, 256))
    return np.asarray(image), pixels, size


def read_upload(uploaded_file):
    """(preview, 32x32 input, original size) for an uploaded file, or None after showing one sentence."""
    content = uploaded_file.getvalue()
    decoded = decode_upload(hashlib.sha256(content).hexdigest(), content, uploaded_file.name)
    if isinstance(decoded, str):
        st.error(decoded)
        return None
    return decoded


def image_choice_ui(key, show=True):
    """A CIFAR-10 validation image (by class and index) or an upload; returns (32x32 uint8 image,
    label text) or None. Unless `show` (a link hid the choosers), the sample session state names is shown."""
    if not show:
        return hidden_sample(key)
    source = st.radio("Image", ["CIFAR-10 sample", "Upload"], horizontal=True, key=f"{key}_source")
    if source == "Upload":
        uploaded = st.file_uploader(
            "An image (PNG, JPEG, WebP, GIF, BMP)", type=UPLOAD_TYPES, key=f"{key}_upload",
            max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        )
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
    indices = (dataset.y_val == CLASS_NAMES.index(class_name)).nonzero()[0]
    number = columns[1].number_input("Sample", 0, len(indices) - 1, 0, key=f"{key}_index")
    return dataset.x_val[indices[number]], f"validation image: {class_name} #{number}"

def hidden_sample(key):
    """The validation image `{key}_class` and `{key}_index` name in session state (as a link set them), and its
    name, without drawing a chooser; None after one sentence when there is no data."""
    dataset, message = dataset_or_message()
    if dataset is None:
        st.info(message)
        return None
    class_name = st.session_state.get(f"{key}_class")
    class_name = class_name if class_name in CLASS_NAMES else CLASS_NAMES[0]
    indices = (dataset.y_val == CLASS_NAMES.index(class_name)).nonzero()[0]
    number = min(int(st.session_state.get(f"{key}_index") or 0), len(indices) - 1)
    st.markdown(f"**Image**: validation image {class_name} #{number}")
    return dataset.x_val[indices[number]], f"validation image: {class_name} #{number}"


def mistakes_link(model_label):
    """The address of the Mistakes page opened on a model (by its label in the model chooser)."""
    return "mistakes?" + urllib.parse.urlencode({"model": model_label})


def current_user():
    """The name this browser gave (kept in the address as ?me=, so a reload or a bookmark remembers it), or None."""
    return st.session_state.get("me") or st.query_params.get("me") or None


def is_teacher():
    return bool(st.session_state.get("teacher"))


def identity_ui():
    """In class mode, the sidebar asks for the student's name and offers the teacher's password; returns nothing."""
    from vgg.classroom.policy import class_mode, clean_name, is_teacher_password

    if not class_mode():
        st.session_state.me = None
        return
    with st.sidebar:
        typed = st.text_input("Your name", value=st.query_params.get("me", ""), key="me_typed",
                              help="Shown on the runs you start; only you and the teacher can stop them.")
        try:
            name = clean_name(typed, "Your name")
        except UserError as error:
            st.error(str(error))
            name = None
        st.session_state.me = name
        if name and st.query_params.get("me") != name:
            st.query_params["me"] = name
        if is_teacher():
            st.success("Teacher's controls on.")
        elif is_teacher_password(st.text_input("Teacher's password", type="password", key="teacher_password")):
            st.session_state.teacher = True
            st.rerun()


# On a projector every rem grows by a quarter and the sidebar narrows: the text reads from the back of the room.
# 12rem: narrower, the sidebar's "Try this" task at 20 px breaks its words apart.
PRESENTER_STYLE = (
    "html {font-size: 20px;} [data-testid='stSidebar'][data-collapsed='false'] {width: 12rem !important;"
    " min-width: 12rem !important;}"
)


def presenter_ui():
    """The sidebar's "Presenter view" switch: larger text on every page for the projector, kept in the address
    (?present=1) so that a bookmark on the teacher's machine opens the projector's view."""
    on = st.sidebar.toggle("Presenter view", value=st.query_params.get("present") == "1", key="presenter",
                           help="Larger text for the projector, and the chart or picture first with the choosers "
                                "folded away; the address keeps it.")
    if on:
        st.query_params["present"] = "1"
        st.html(f"<style>{PRESENTER_STYLE}</style>")
    elif "present" in st.query_params:
        del st.query_params["present"]


def presenting():
    """Whether the presenter view is on: pages then put the chart or picture under discussion first and fold
    their choosers away."""
    return bool(st.session_state.get("presenter"))


def folded(label):
    """A collapsed expander in the presenter view, so the chart or picture keeps the projector's first screen;
    elsewhere no container at all."""
    return st.expander(label, icon=":material/tune:") if presenting() else contextlib.nullcontext()


def start_run(**launch_arguments):
    """Queues a run from any page through `vgg.classroom.launch.launch`, as this session's user: within the class's
    limits for a student and the disk budget for everyone. Returns (run, process); a refusal raises UserError."""
    from vgg.classroom.launch import launch
    from vgg.classroom.policy import class_mode, load_limits

    owner, teacher = current_user(), is_teacher()
    if class_mode() and owner is None and not teacher:
        raise UserError("Type your name in the sidebar first: runs carry their starter's name in class.")
    return launch(runs_dir(), owner=owner, limits=load_limits(runs_dir()), student=class_mode() and not teacher,
                  **launch_arguments)


def try_this_ui(page_name):
    """The page's "Try this" task from experiments/try-this.toml in the sidebar, when it has one: beside the page,
    so the chart or picture it is about keeps the first screen."""
    from vgg.classroom.experiments import try_this

    try:
        task = try_this(page_name)
    except UserError as error:
        st.sidebar.warning(str(error))
        return
    if task:
        st.sidebar.info(f"**Try this:** {task}", icon=":material/lightbulb:")
    if may_edit_tasks():
        edit_task_ui(page_name, task or "")


def may_edit_tasks():
    """The teacher edits the tasks: in class mode once unlocked, else whoever runs the app (preparing a lesson)."""
    from vgg.classroom.policy import class_mode

    return is_teacher() or not class_mode()


def edit_task_ui(page_name, task):
    """A small form under the task that rewrites this page's task in experiments/try-this.toml."""
    from vgg.classroom.experiments import save_try_this

    with st.sidebar.popover("Edit this task" if task else "Write a task for this page", icon=":material/edit:",
                            width="stretch"), st.form(f"try_this_form_{page_name}", border=False):
        text = st.text_area("Task for students", task, max_chars=400, key=f"try_this_text_{page_name}",
                            help="One or two sentences; leave it empty to show no task on this page.")
        if st.form_submit_button("Save the task"):
            try:
                save_try_this(page_name, text)
            except UserError as error:
                st.error(str(error))
                return
            st.rerun()
