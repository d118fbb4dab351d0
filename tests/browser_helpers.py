"""What the browser tests share: pages, waits, retried clicks, checks and screenshots. Starting streamlit and
Chromium is benchmarks/browser.py's, which the benchmarks use too.

Playwright is imported inside the functions, so that importing this module needs no browser packages.
"""

import contextlib
import re
import shutil
import time
import types

import pytest

from benchmarks.browser import CHROMIUM, PROJECT_ROOT, VIEWPORT, wait_until_idle
from benchmarks.browser import screenshot as screenshot_at
from helpers import subprocess_environment

__all__ = [
    "CHROMIUM",
    "SCREENSHOTS",
    "VIEWPORT",
    "app_server",
    "choose_model",
    "choose_option",
    "close_pages",
    "new_page",
    "no_exception",
    "no_exception_or_error",
    "open_page",
    "press_until",
    "screenshot",
    "screenshot_path",
    "set_number",
    "start_training",
    "wait_for_no_active_run",
    "wait_until_idle",
]

# Ignored by git: what the tests picture is for a person to look at, never part of the project.
SCREENSHOTS = PROJECT_ROOT / "tests" / "screenshots"


def screenshot_path(name):
    """Where a screenshot for a person to look at goes: tests/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


def screenshot(page, name):
    """The whole page at tests/screenshots/NAME.png, once the script is done and every picture has loaded."""
    screenshot_at(page, screenshot_path(name))


@contextlib.contextmanager
def app_server(root, data_dir, runs_source=None, **environment):
    """A real `streamlit run` on a free port over `data_dir`, with a copy of `runs_source` (or nothing) as its
    runs folder and `environment` added to its own. Yields an object with `url`, `runs_dir` and `log`."""
    from benchmarks.browser import CHROMIUM, streamlit_server
    from vgg.classroom.launch import stop_active_runs

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is missing; tests/run.sh installs it")
    pytest.importorskip("playwright.sync_api")
    runs_dir = root / "runs"
    if runs_source is not None:
        shutil.copytree(runs_source, runs_dir)
    # A server prepares the shipped models' analyses in a process of its own (vgg/explain/ready.py): not beside
    # the tests, which time their pages, nor warms up TensorFlow (app_pages/warm.py), unless a test asks for it.
    environment = subprocess_environment(
        VGG_DATA_DIR=data_dir,
        VGG_RUNS_DIR=runs_dir,
        VGG_CACHE_DIR=root / "cache",
        **{"VGG_PREPARE_SHIPPED": "0", "VGG_WARM_UP": "0", **environment},
    )
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        try:
            with streamlit_server(environment, output=log) as (_, url):
                yield types.SimpleNamespace(url=url, runs_dir=runs_dir, log=log_path)
                # Only a failing test shows this; it says what the server said while the tests ran.
                print(log_path.read_text()[-4000:])
        except RuntimeError as error:
            pytest.fail(f"{error}: {log_path.read_text()[-2000:]}")
        finally:
            # Training processes live in their own sessions: a failed test must not leave them running.
            stop_active_runs(runs_dir)


def open_page(page, url):
    """Goes to `url` in pytest-playwright's page and waits for the app to show."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_test_id("stApp")).to_be_visible(timeout=90_000)


def new_page(browser, url, viewport=VIEWPORT):
    """Another session: a page in a context of its own, at `url`, that records the browser's errors."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    # A page the browser could not draw says why only here; a failing test prints these.
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(f"{error}\n{error.stack}"))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(url)
    return page


def close_pages(pages, folder):
    """Closes the sessions' pages; first saves what each showed, which a failing test prints."""
    from playwright.sync_api import Error

    for index, page in enumerate(pages):
        try:
            page.screenshot(path=str(folder / f"session-{index}.png"), full_page=True)
            shown = page.locator("body").inner_text()[:1000]
            print(f"session {index} at {page.url} showed {shown!r}; browser errors: {page.errors}")
        except Error as error:
            # A crashed page cannot be pictured; the others must still close and the runs stop.
            print(f"session {index} could not be saved: {error}; browser errors: {page.errors}")
        page.context.close()


def no_exception(page):
    """The page shows no Python exception."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)


def no_exception_or_error(page):
    """The page shows neither a Python exception nor an error box."""
    from playwright.sync_api import expect

    no_exception(page)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


# Clicks and choices a redrawing page can swallow, retried ---------------------------------------------------------


def choose_model(page, label):
    """Picks a model in the page's Model select box (the tiny run knows the generated classes)."""
    page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
    page.get_by_role("option", name=label).click()
    page.wait_for_timeout(1000)
    wait_until_idle(page)


def choose_option(page, label, option, attempts=3):
    """Picks `option` in the select box `label`; opened again if a redraw of the page closed it."""
    from playwright.sync_api import Error

    for attempt in range(attempts):
        page.get_by_test_id("stSelectbox").filter(has_text=label).click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            return
        except Error:
            if attempt == attempts - 1:
                raise


def set_number(page, label, value):
    """Types `value` into a number field; typed again if a rerun of the page swallowed it (at most twice more)."""
    field = page.get_by_label(label, exact=True)
    for _ in range(3):
        field.fill(str(value))
        field.press("Enter")
        page.wait_for_timeout(800)
        wait_until_idle(page)
        if field.input_value() == str(value):
            return
    assert field.input_value() == str(value), f"{label} stayed at {field.input_value()}, not {value}"


def start_training(page):
    """Presses Start and waits for the new run to show. On a loaded machine a click that lands
    while the page is still redrawing after a settings change can be lost, so it is pressed
    again (at most twice more) if no run appears; a run that did start turns the button into "Queue run"."""
    from playwright.sync_api import expect

    for _ in range(3):
        if page.get_by_role("button", name="Queue run").count():
            break  # A run started after all: the page already knows.
        button = page.get_by_role("button", name="Start training")
        button.click()
        try:
            expect(page.get_by_text(re.compile(r"is (queued|starting|running) ·"))).to_be_visible(timeout=30_000)
            return
        except AssertionError:
            continue
    expect(page.get_by_text(re.compile(r"is (queued|starting|running) ·"))).to_be_visible()


def press_until(button, done, attempts=4, seconds=20):
    """Clicks `button` until `done()`: a click that lands while a live view redraws its buttons is lost, and during
    a redraw the old button and the new one can both be on the page for a moment."""
    for _ in range(attempts):
        button.first.click(timeout=60_000)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.3)
    raise AssertionError(f"{attempts} clicks on {button} did not take effect")


def wait_for_no_active_run(runs_dir, timeout_seconds):
    """Whether `runs_dir` has no run starting, training or queued within `timeout_seconds`."""
    from vgg.classroom.launch import active_run

    deadline = time.monotonic() + timeout_seconds
    while active_run(runs_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.3)
    return active_run(runs_dir) is None
