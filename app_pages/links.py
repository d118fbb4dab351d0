"""Every view is a link: a page's choices live in the address (`?model=…&true=cat`), so a teacher can send every
student exactly the view on the projector, with some controls hidden (`hide=model,cell`), as TensorFlow Playground
does.

A page declares its parameters once (`Param`), calls `follow` before drawing its widgets (the link's values go into
session state, checked), asks `shows(name)` before drawing a control, and calls `write` with what was chosen after
drawing, which keeps the address up to date. `share_ui` draws the "Copy link for students" control.
"""

import dataclasses
import urllib.parse
from collections.abc import Callable

import streamlit as st

from app_pages.plain import plain, whole_number

# Parameters no page owns stay as they are: the student's name (app_pages/class_ui.py identity_ui) and the presenter
# view (app_pages/presenter.py).
KEPT = ("me", "present")
HIDE = "hide"
# `hide=all`: a view-only copy of the view, every control hidden; students look, they do not change it.
ALL = "all"
# A link's value echoed in a message is cut to this many characters: a link can be as long as a browser allows.
LINK_TEXT_SHOWN = 60


@dataclasses.dataclass(frozen=True)
class Param:
    """One choice kept in the address: `name` there, `key` in session state (the widget's key, or None when the page
    reads the value itself), `label` in the copy-link control (None: it cannot be hidden), `choices` the valid
    values (a function, as they depend on the runs folder or the data), `many` for a list of them (one per key when
    `key` is a tuple), `number` for a count from `low` to `high`; `also` is more session state a link with it sets."""

    name: str
    key: str | tuple | None
    label: str | None = None
    choices: Callable[[], list] | None = None
    many: bool = False
    number: bool = False
    low: int = 0
    high: int | None = None
    default: object = None
    also: tuple = ()

    def parse(self, text):
        """The value `text` names, or raises ValueError when it names nothing valid here."""
        if self.number:
            number = whole_number(text) if self.high is None else whole_number(text, self.high)
            if number is None or number < self.low:
                raise ValueError(
                    f"A link's {self.name} must be a whole number from {self.low} to {self.high}. Received: {text=}"
                )
            return number
        values = [value for value in text.split(",") if value] if self.many else [text]
        choices = None if self.choices is None else list(self.choices())
        allowed = None if choices is None else [str(choice) for choice in choices]
        if isinstance(self.key, tuple) and len(values) != len(self.key):
            raise ValueError(f"A link's {self.name} must name {len(self.key)} values. Received: {text=}")
        if allowed is not None and any(value not in allowed for value in values):
            raise ValueError(f"A link's {self.name} must be among {allowed}. Received: {text=}")
        if allowed is not None:
            # Back to the chooser's own values (a number for a slider of numbers).
            values = [choices[allowed.index(value)] for value in values]
        return values if self.many else values[0]

    def text(self, value):
        """How `value` reads in the address; None leaves it out."""
        if value is None or value == self.default:
            return None
        return ",".join(str(item) for item in value) if self.many else str(value)


def page_query():
    """The address's parameters as {name: text}, without the ones no page owns."""
    return {name: value for name, value in st.query_params.to_dict().items() if name not in KEPT}


def hidden_names():
    return {name for name in st.query_params.get(HIDE, "").split(",") if name}


# Kept in the session once a view-only link opened it: the sidebar's page links carry no address parameters, and a
# student who clicks one must not leave view-only for a fully controllable page.
VIEW_ONLY_KEY = "links_view_only_session"
# What a view-only reader may still change: the tabs only show other parts of the same view.
BROWSABLE = ("tab",)


def is_hidden(name):
    return name in hidden_names() or (view_only() and name not in BROWSABLE)


def view_only():
    """Whether this session opened a view-only link: its pages draw none of their controls, only what they chose."""
    if ALL in hidden_names():
        st.session_state[VIEW_ONLY_KEY] = True
    return bool(st.session_state.get(VIEW_ONLY_KEY))


def follow(page, params):
    """Puts the values the address names into session state, checked, whenever the address differs from the one
    this page last followed or wrote (a link just opened, or the browser's Back button); says in one sentence what
    it could not open. Hidden parameters are read from the address on every run, as no widget keeps them."""
    seen_key = f"links_seen_{page}"
    query = page_query()
    # A click's rerun can carry the address from before the last run's update reached the browser: when the click
    # changed a control, the control wins and that stale address is not followed.
    fresh = query != st.session_state.get(seen_key) and not changed_by_user(page, params)
    st.session_state[seen_key] = query
    broken = []
    for param in params:
        text = query.get(param.name)
        if text is None or not (fresh or (is_hidden(param.name) and param.key)):
            continue
        try:
            value = param.parse(text)
        except ValueError:
            broken.append(f"{param.name}={plain(text, most=LINK_TEXT_SHOWN)}")
            continue
        keys = param.key if isinstance(param.key, tuple) else (param.key,)
        values = value if isinstance(param.key, tuple) else (value,)
        st.session_state.update({key: item for key, item in zip(keys, values, strict=True) if key})
        st.session_state.update(dict(param.also))
    if broken and fresh:
        st.info(
            f"The link names something that is not here ({', '.join(broken)}), so the page opens on the nearest "
            "view instead."
        )


def changed_by_user(page, params):
    """Whether a control of the page holds another value than the page last wrote into the address: the user
    changed it in the click that started this run."""
    written = st.session_state.get(f"links_values_{page}")
    if written is None:
        return False
    for param in params:
        keys = param.key if isinstance(param.key, tuple) else (param.key,)
        if param.name not in written or not param.key or any(key not in st.session_state for key in keys):
            continue
        current = [st.session_state[key] for key in keys] if isinstance(param.key, tuple) else st.session_state[keys[0]]
        if param.text(current) != written[param.name]:
            return True
    return False


def forget_written(page):
    """Makes the next run of the page at path `page` follow its address whatever its controls hold: the address is
    a view sent to this browser (the teacher's, app_pages/follow_view.py), never a stale one from a click."""
    st.session_state.pop(f"links_values_{page}", None)


def value(param):
    """The value the address gives `param` (checked), or None: for the values a page reads itself."""
    text = st.query_params.get(param.name)
    try:
        return None if text is None else param.parse(text)
    except ValueError:
        return None


def shows(name):
    """Whether to draw the control for parameter `name`: the link may hide it from whoever opens it."""
    return not is_hidden(name)


def write(page, params, values):
    """Keeps the address in step with what the page shows: `values` is {parameter name: value}; a parameter left out
    of it, hidden ones, others' (`me`) and `hide` keep their text, so a page can write what it knows so far and the
    browser's history holds no half-written address."""
    hidden = hidden_names()
    wanted = {name: text for name, text in st.query_params.to_dict().items() if name in KEPT}
    for param in params:
        kept = is_hidden(param.name) or param.name not in values
        text = st.query_params.get(param.name) if kept else param.text(values[param.name])
        if text is not None:
            wanted[param.name] = text
    if hidden:
        wanted[HIDE] = ",".join(sorted(hidden))
    if wanted != st.query_params.to_dict():
        st.query_params.from_dict(wanted)
    st.session_state[f"links_seen_{page}"] = page_query()
    st.session_state[f"links_values_{page}"] = {
        param.name: param.text(values[param.name]) for param in params if param.name in values
    }


def address(url_path, values):
    """The relative address of the page at `url_path` opened on `values` ({parameter name: value}, a value None
    left out), for a link from one page to another."""
    query = {
        name: ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        for name, value in values.items()
        if value is not None
    }
    return url_path + ("?" + urllib.parse.urlencode(query, safe=":,") if query else "")


def share_link(url_path, hide=()):
    """The address of this view for students: the page's parameters and `hide`, without the sharer's name."""
    query = page_query()
    query.pop(HIDE, None)
    if hide:
        query[HIDE] = ",".join(hide)
    base = (st.context.url or "").split("?")[0].rstrip("/")
    base = base.rsplit("/", 1)[0] if base.endswith(f"/{url_path}") else base
    address = f"{base}/{url_path}"
    return address + ("?" + urllib.parse.urlencode(query, safe=":,") if query else "")


def share_ui(page, params):
    """The "Copy link for students" popover in the sidebar for the page at path `page`: controls to hide, and the
    link in a copyable box."""
    if view_only():
        return  # A student's view-only copy has no link of its own to give.
    labels = {param.name: param.label for param in params if param.label}
    with st.sidebar.popover("Copy link for students", icon=":material/link:", width="stretch"):
        st.caption(
            "Whoever opens this link sees this view; a hidden control is not drawn for them, its value comes "
            "from the link."
        )
        only_look = st.toggle(
            "View only",
            key=f"links_view_only_{page}",
            help="Every control hidden: students see this view and cannot change it.",
        )
        hide = (
            [ALL]
            if only_look
            else st.multiselect("Hide from students", list(labels), format_func=labels.get, key=f"links_hide_{page}")
            if labels
            else []
        )
        st.code(share_link(page, hide), language=None, wrap_lines=True)
