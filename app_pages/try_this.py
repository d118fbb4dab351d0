"""Each page's "Try this" task from experiments/try-this.toml, in the sidebar, and the teacher's editor for it."""

import streamlit as st

from app_pages.class_ui import is_teacher
from app_pages.plain import plain
from vgg.classroom.policy import class_mode
from vgg.classroom.tasks import BROKEN_COPY, save_try_this, try_this
from vgg.core.errors import UserError


def try_this_ui(page_name):
    """The page's task (its key is the page's title, app_pages/pages.py) in the sidebar, when it has one: beside
    the page, so the chart or picture it is about keeps the first screen."""
    try:
        task = try_this(page_name)
    except UserError as error:
        task = None
        broken = (
            f" Saving a task below starts it afresh and keeps its text as {BROKEN_COPY}." if may_edit_tasks() else ""
        )
        st.sidebar.warning(plain(f"{error}{broken}"))
    if task:
        st.sidebar.info(f"**Try this:** {plain(task)}", icon=":material/lightbulb:")
    if may_edit_tasks():
        edit_task_ui(page_name, task or "")


def may_edit_tasks():
    """The teacher edits the tasks: in class mode once unlocked, else whoever runs the app (preparing a lesson)."""
    return is_teacher() or not class_mode()


def edit_task_ui(page_name, task):
    """A small form under the task that rewrites this page's task in experiments/try-this.toml."""
    with (
        st.sidebar.popover(
            "Edit this task" if task else "Write a task for this page", icon=":material/edit:", width="stretch"
        ),
        st.form(f"try_this_form_{page_name}", border=False),
    ):
        text = st.text_area(
            "Task for students",
            task,
            max_chars=400,
            key=f"try_this_text_{page_name}",
            help="One or two sentences; leave it empty to show no task on this page.",
        )
        if st.form_submit_button("Save the task"):
            try:
                save_try_this(page_name, text)
            except UserError as error:
                st.error(plain(error))
                return
            st.rerun()
