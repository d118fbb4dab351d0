"""Who is using this browser in class mode (the student's name, the teacher's password) and starting a run as
them."""

import streamlit as st

from app_pages.caches import runs_dir
from app_pages.plain import plain
from vgg.classroom.launch import launch
from vgg.classroom.policy import class_mode, clean_name, is_teacher_password, load_limits
from vgg.core.errors import UserError


def current_user():
    """The name this browser gave (kept in the address as ?me=, so a reload or a bookmark remembers it), or None."""
    return st.session_state.get("me") or st.query_params.get("me") or None


def is_teacher():
    return bool(st.session_state.get("teacher"))


def identity_ui():
    """In class mode, the sidebar asks for the student's name and offers the teacher's password; returns nothing."""
    if not class_mode():
        st.session_state.me = None
        return
    with st.sidebar:
        typed = st.text_input(
            "Your name",
            value=st.query_params.get("me", ""),
            key="me_typed",
            help="Shown on the runs you start; only you and the teacher can stop them.",
        )
        try:
            name = clean_name(typed, "Your name")
        except UserError as error:
            st.error(plain(error))
            name = None
        st.session_state.me = name
        if name and st.query_params.get("me") != name:
            st.query_params["me"] = name
        if is_teacher():
            st.success("Teacher's controls on.")
        elif is_teacher_password(st.text_input("Teacher's password", type="password", key="teacher_password")):
            st.session_state.teacher = True
            st.rerun()


NAME_FIRST = "Type your name in the sidebar first: runs carry their starter's name in class."


def refusal_ui(key):
    """The refusal of the last start kept under `key` in session state, until the next start; a refusal for want of
    a name goes as soon as the name is typed."""
    refusal = st.session_state.get(key)
    if refusal == NAME_FIRST and current_user() is not None:
        st.session_state.pop(key)
    elif refusal:
        st.error(plain(refusal))


def start_run(**launch_arguments):
    """Queues a run from any page through `vgg.classroom.launch.launch`, as this session's user: within the class's
    limits for a student and the disk budget for everyone. Returns (run, process); a refusal raises UserError."""
    owner, teacher = current_user(), is_teacher()
    if class_mode() and owner is None and not teacher:
        raise UserError(NAME_FIRST)
    return launch(
        runs_dir(),
        owner=owner,
        limits=load_limits(runs_dir()),
        student=class_mode() and not teacher,
        **launch_arguments,
    )
