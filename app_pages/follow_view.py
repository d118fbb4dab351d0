""" "Follow me" in the sidebar of every page, drawn by the router: the teacher's switch, which shares their view
(vgg/classroom/follow.py), and each student's notice with its opt-out, which moves the student's browser to the
teacher's view once per change.

Both sides watch in a light fragment: a stat of the shared file per tick, and a page switch only when the
teacher's view changed.
"""

import streamlit as st

from app_pages import links
from app_pages.caches import runs_dir
from app_pages.class_ui import is_teacher
from vgg.classroom.follow import View, lead, move_for, publish, read_follow, release
from vgg.classroom.policy import class_mode
from vgg.core.config import REDRAW_SECONDS


def current_view(page_path):
    """This browser's view: its page and the link parameters its address holds (no name, presenter or hiding)."""
    return View(page_path, {name: text for name, text in links.page_query().items() if name != links.HIDE})


def follow_ui(routes, page_path):
    """The sidebar's "Follow me" part for this session, in class mode: the teacher's switch, or a student's notice.
    `routes` is {page path: st.Page}; `page_path` is the page this run draws."""
    if not class_mode() or page_path not in routes:
        return
    with st.sidebar:
        if is_teacher():
            teacher_ui(page_path)
            st.fragment(run_every=REDRAW_SECONDS)(share_view)(page_path)
        else:
            st.fragment(run_every=REDRAW_SECONDS)(student_ui)(routes, page_path)


def teacher_ui(page_path):
    """The teacher's "Follow me" switch, showing the shared file's state (another teacher's browser may change it)."""
    record = read_follow(runs_dir())
    st.session_state.follow_me = record.on
    st.toggle(
        "Follow me",
        key="follow_me",
        on_change=_switched,
        args=(page_path,),
        help="Every student's browser shows your page and choices within a few seconds of each change, until you "
        "turn this off.",
    )
    if record.on:
        st.caption("The class follows your screen. Turn it off to give students their own controls back.")


def _switched(page_path):
    if st.session_state.follow_me:
        lead(runs_dir(), current_view(page_path))
    else:
        release(runs_dir())


def share_view(page_path):
    """Shares the teacher's view while the class follows: after every draw of the page, and every few seconds for
    the changes a page's own fragments make."""
    if is_teacher():
        publish(runs_dir(), current_view(page_path))


def student_ui(routes, page_path):
    """While the teacher leads: the notice, the opt-out, and the move to the teacher's view after each change."""
    record = read_follow(runs_dir())
    if not record.on:
        return
    # The notice first, where the eye lands; the switch to leave under it.
    notice = st.empty()
    following = st.toggle(
        "Follow the teacher",
        value=True,
        key="follow_teacher",
        help="Off: you keep your own screen while the teacher leads.",
    )
    if not following:
        notice.caption("The teacher is leading the class; you are on your own screen.")
        st.session_state.followed_seq = None  # Following again moves this browser to the teacher's view at once.
        return
    notice.info("Following the teacher: your screen shows theirs.", icon=":material/cast_for_education:")
    target = move_for(record, st.session_state.get("followed_seq"), False, current_view(page_path))
    st.session_state.followed_seq = record.seq
    if target is not None:
        kept = {name: text for name, text in st.query_params.to_dict().items() if name in links.KEPT}
        links.forget_written(target.page)
        st.switch_page(routes[target.page], query_params=target.params | kept)
