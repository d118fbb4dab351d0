"""The Train page's class parts: the queue (positions, expected start, cancel, the teacher's reordering) and the
teacher's controls (limits, reset for the next class). Each `_ui` function draws and returns what was chosen;
`apply_queue_action` and `render_teacher_controls` act.
"""

import contextlib

import streamlit as st

from app_pages.caches import after_start, queue_places, runs_dir
from app_pages.class_ui import current_user, is_teacher
from app_pages.plain import plain
from vgg.classroom import names
from vgg.classroom.policy import ClassLimits, class_mode, load_limits, may_control, save_limits
from vgg.core.errors import UserError
from vgg.runs.archive import archive_runs, archives, restore
from vgg.runs.disk import folder_bytes
from vgg.runs.folder import open_run
from vgg.runs.metrics import format_duration
from vgg.runs.queue import move_up, slot_count


def starts_text(place):
    """When a queued run is expected to start, in words: 'in about 2 min', 'next' or 'when a slot frees'."""
    when = place.starts_in_seconds
    return "when a slot frees" if when is None else "next" if when < 1 else f"in about {format_duration(when)}"


def queue_ui(titles):
    """The queued runs, first in line first; returns ("cancel" or "up", run name) or None."""
    places = queue_places(str(runs_dir()))
    if not places:
        return None
    st.subheader(f"Queue · {len(places)} waiting for {slot_count()} training slot(s)")
    chosen = None
    for place in places:
        with contextlib.suppress(UserError):
            run = open_run(runs_dir(), place.run_name)
            status = run.status()
            columns = st.columns([4, 1, 1], vertical_alignment="center")
            columns[0].markdown(
                f"**{place.position}.** {plain(titles.get(run.name, run.name))} · starts {starts_text(place)}"
            )
            if may_control(status, current_user(), is_teacher()) and columns[1].button(
                "Cancel", key=f"cancel_{run.name}", help="Take it out of the queue; it can be resumed later."
            ):
                chosen = ("cancel", run.name)
            if (
                (is_teacher() or not class_mode())
                and place.position > 1
                and columns[2].button("Move up", key=f"up_{run.name}", icon=":material/arrow_upward:")
            ):
                chosen = ("up", run.name)
    return chosen


def apply_queue_action(action):
    """Carries out what queue_ui returned; a refusal is one sentence on the page."""
    kind, name = action
    try:
        run = open_run(runs_dir(), name)
        status = run.status()
        allowed = may_control(status, current_user(), is_teacher())
        if not allowed or (kind == "up" and class_mode() and not is_teacher()):
            raise UserError(f"Only its starter or the teacher can change run {status.title or name!r} in the queue.")
        run.request_stop() if kind == "cancel" else move_up(runs_dir(), run)
    except UserError as error:
        st.error(plain(error))
        return
    after_start()
    st.rerun(scope="app")


def limits_ui(limits):
    """The teacher's limits as a form; returns the new ClassLimits when saved, else None."""
    with st.form("class_limits"):
        columns = st.columns(5)
        values = {
            "runs_per_student": columns[0].number_input(
                "Runs per student",
                *ClassLimits.RANGES["runs_per_student"],
                value=limits.runs_per_student,
                help="Queued or training at once.",
            ),
            "max_estimated_minutes": columns[1].number_input(
                "Longest estimated run (min)",
                *ClassLimits.RANGES["max_estimated_minutes"],
                value=float(limits.max_estimated_minutes),
                help="Epochs x images x the model's cost, at this "
                "machine's measured speed: a student's longer run is refused with its estimate.",
            ),
            "max_training_minutes": columns[2].number_input(
                "Training time per run (min)",
                *ClassLimits.RANGES["max_training_minutes"],
                value=float(limits.max_training_minutes),
                help="A student's run is stopped cleanly after this much training; only the teacher can resume it.",
            ),
            "disk_budget_gb": columns[3].number_input(
                "Disk budget (GB)",
                *ClassLimits.RANGES["disk_budget_gb"],
                value=float(limits.disk_budget_gb),
                help="For the whole runs folder, archive included: old checkpoints are pruned first, then starts are "
                "refused.",
            ),
            "class_size": columns[4].number_input(
                "Students",
                *ClassLimits.RANGES["class_size"],
                value=limits.class_size,
                help="Each student's share of the disk budget is the budget over this many: past it, their own "
                "stopped runs' checkpoints are pruned, then their starts refused.",
            ),
        }
        if st.form_submit_button("Save limits"):
            return ClassLimits(**values)
    return None


def reset_ui():
    """Reset for the next class and restoring an archive; returns ("reset", None), ("restore", name) or None."""
    columns = st.columns(2)
    with columns[0]:
        sure = st.checkbox("Yes, archive every run that is not queued or training", key="reset_sure")
        if st.button(
            "Reset for the next class",
            disabled=not sure,
            icon=":material/inventory_2:",
            help="Runs leave every list (kept on disk, restorable below) and every student's name is freed.",
        ):
            return "reset", None
    found = archives(runs_dir())
    if found:
        with columns[1]:
            name = st.selectbox(
                "Archived classes", list(found), format_func=lambda n: f"{n} ({found[n]} runs)", key="archive_choice"
            )
            if st.button("Restore", icon=":material/unarchive:"):
                return "restore", name
    return None


def render_teacher_controls():
    """The teacher's controls (everyone's outside class mode): limits, disk use, reset for the next class."""
    if class_mode() and not is_teacher():
        return
    message = st.session_state.pop("class_message", None)
    with st.expander(
        "Teacher's controls: limits, disk, next class", icon=":material/school:", expanded=message is not None
    ):
        if message:
            st.success(plain(message))
        limits = load_limits(runs_dir())
        used = folder_bytes(runs_dir()) / 1e9
        st.caption(
            f"The runs folder holds {used:.2f} GB of its {limits.disk_budget_gb:g} GB budget. "
            + (
                "Limits hold students in class mode, each with a share of "
                f"{limits.disk_budget_gb / limits.class_size * 1000:,.0f} MB of the disk."
                if class_mode()
                else "Class mode is off (no teacher password), so only the disk budget applies."
            )
        )
        changed = limits_ui(limits)
        if changed is not None and changed != limits:
            _act(lambda: save_limits(runs_dir(), changed), "Limits saved.")
        choice = reset_ui()
        if choice == ("reset", None):
            _act(lambda: _reset_message(*archive_runs(runs_dir())))
        elif choice is not None:
            _act(lambda: f"Restored {len(restore(runs_dir(), choice[1]))} run(s).")


def _reset_message(name, moved, kept):
    st.session_state.pop("reset_sure", None)
    names.release_all(runs_dir())  # The next class types its own names.
    extra = f"; {len(kept)} queued or training stayed" if kept else ""
    return f"Archived {len(moved)} run(s) as {name!r}{extra}; every name is free again."


def _act(action, message=None):
    try:
        said = action()
    except UserError as error:
        st.error(plain(error))
        return
    st.session_state.class_message = message or said
    after_start()
    st.rerun(scope="app")
