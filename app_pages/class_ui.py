"""Who is using this browser in class mode (the student's name, the teacher's password) and starting a run as
them."""

import ipaddress

import streamlit as st

from app_pages.caches import runs_dir
from app_pages.plain import plain
from vgg.classroom import names, password
from vgg.classroom.launch import launch
from vgg.classroom.policy import class_mode, load_limits
from vgg.core.errors import UserError

ME = "me"  # The address's parameter: the student's name and its secret, `?me=Ada~<secret>`.
# Streamlit's per-browser cookie (its cross-site request token); its raw token stays while the browser keeps it.
BROWSER_COOKIE = "_streamlit_xsrf"


def current_user():
    """The student this browser is (a vgg.classroom.names.Student: the name, its secret's hash, the browser),
    as `identity_ui` last confirmed it against the class's names; None without a name of its own."""
    return st.session_state.get("student") if class_mode() else None


def is_teacher():
    return bool(st.session_state.get("teacher"))


def refuse_weak_password():
    """Stops every page, with one sentence, while the server's teacher password is too short to use."""
    refusal = password.password_refusal()
    if refusal:
        st.error(refusal)
        st.stop()


def keep_name_in_address():
    """Puts the name and its secret back in the address when a sidebar click left them out, so a reload or a
    bookmark on any page keeps the name."""
    kept = st.session_state.get("me_address")
    if class_mode() and kept and ME not in st.query_params:
        st.query_params[ME] = kept


def identity_ui():
    """In class mode, the sidebar asks for the student's name and offers the teacher's password; returns nothing."""
    if not class_mode():
        st.session_state.student = None
        return
    with st.sidebar:
        _identify()
        st.text_input(
            "Your name",
            key="me_typed",
            on_change=_typed,
            help="Shown on the runs you start; only this browser and the teacher can stop them.",
        )
        refusal = st.session_state.pop("me_refusal", None)
        if refusal:
            st.error(plain(refusal))
        elif current_user() is not None:
            st.caption("This name is yours in this browser; its address keeps it, so bookmark the page.")
        _password_ui()


def _typed():
    st.session_state.me_wanted = st.session_state.me_typed


def _identify():
    """Confirms the name in the address (or the one just typed) against the class's names: its own secret, or a
    free name claimed now; a name held by another browser is refused in one sentence."""
    typed = st.session_state.pop("me_wanted", None)
    text = st.query_params.get(ME, "") if typed is None else typed
    student, kept, refusal = None, None, None
    try:
        name, secret = names.parse(text)
        if name is not None and not names.owns(runs_dir(), name, secret):
            if secret is not None:
                # Never claimed again by itself: the teacher freed it for another browser, or a newer claim holds it.
                raise UserError(f"The name {name!r} is no longer this browser's: type your name again.")
            secret = names.claim(runs_dir(), name)
        if name is not None:
            student = names.Student(name, names.secret_hash(secret), _browser(), _address())
            kept = names.address_text(name, secret)
    except UserError as error:
        refusal = str(error)
        if typed is not None and st.session_state.get("student") is not None:
            return _refused(refusal)  # A refused new name leaves the name this browser has.
    st.session_state.update(student=student, me_address=kept, me_typed=student.name if student else "")
    if refusal:
        st.session_state.me_refusal = refusal
    if kept is None:
        st.query_params.pop(ME, None)
    elif st.query_params.get(ME) != kept:
        st.query_params[ME] = kept


def _refused(refusal):
    st.session_state.me_refusal = refusal
    st.session_state.me_typed = st.session_state.student.name


def _browser():
    """A trace of this browser that survives its reloads and new tabs (the hash of Streamlit's cookie token), or
    None when the browser sent none."""
    from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string

    token, _ = decode_xsrf_token_string(st.context.cookies.get(BROWSER_COOKIE, ""))
    return names.secret_hash(token.hex()) if token else None


def _address():
    """The browser's network address; None on the server's own machine, where every browser shares one."""
    text = st.context.ip_address
    try:
        address = ipaddress.ip_address(text) if isinstance(text, str) else None  # Simulated sessions have none.
    except ValueError:
        return None
    # Streamlit knows "127.0.0.1" and "::1" only; a dual-stack server sees IPv4 browsers as "::ffff:a.b.c.d".
    address = getattr(address, "ipv4_mapped", None) or address
    return None if address is None or address.is_loopback else str(address)


def _password_ui():
    """The teacher's password box, or the note that the controls are on; each guess counts once, in vgg's
    process-wide count (vgg/classroom/password.py)."""
    if is_teacher():
        st.success("Teacher's controls on.")
        _release_ui()
        return
    st.text_input("Teacher's password", type="password", key="teacher_password", on_change=_guess)
    said = st.session_state.pop("password_said", None)
    if said:
        st.error(said)


def _release_ui():
    """The teacher's list of the names in use, to free one for a student who lost their page's address."""
    taken = names.claimed_names(runs_dir())
    said = st.session_state.pop("release_said", None)
    with st.expander(f"Names in use ({len(taken)})", expanded=said is not None):
        if said:
            st.success(plain(said))
        if not taken:
            st.caption("No student has typed a name yet.")
            return
        name = st.selectbox("Name to release", taken, key="release_choice")
        if st.button("Release", key="release_name", help="The next browser that types it takes it."):
            names.release(runs_dir(), name)
            st.session_state.release_said = f"Released {name!r}: the next browser that types it takes it."
            st.rerun()


def _guess():
    attempt = st.session_state.teacher_password
    st.session_state.teacher_password = ""
    if not attempt:
        return
    try:
        if password.GUESSES.check(attempt, _address()):
            st.session_state.teacher = True
        else:
            st.session_state.password_said = "That is not the teacher's password."
    except UserError as error:
        st.session_state.password_said = str(error)


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
