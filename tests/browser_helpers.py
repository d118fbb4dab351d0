"""What the browser tests share: Chromium (as the benchmark starts it), pages, waits, checks, screenshots.

Playwright is imported inside the functions, so that importing this module needs no browser packages.
"""

import warnings

from benchmarks.first_paint import CHROMIUM, CHROMIUM_ARGUMENTS, PROJECT_ROOT, free_port

__all__ = [
    "CHROMIUM", "CHROMIUM_ARGUMENTS", "SCREENSHOTS", "VIEWPORT", "close_pages", "free_port", "new_page",
    "no_exception", "no_exception_or_error", "open_page", "screenshot", "screenshot_path", "wait_until_idle",
]

SCREENSHOTS = PROJECT_ROOT / "tests" / "screenshots"
VIEWPORT = {"width": 1400, "height": 1100}
IMAGE_LOADED = "image => image.complete && image.naturalWidth > 0"


def screenshot_path(name):
    """Where a screenshot for a person to look at goes: tests/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


def wait_until_idle(page):
    """Waits until the script has finished its run, so that what shows is not left over from the one before.

    The "Running..." widget shows only once a run has lasted a moment, so the app's own script state is
    checked too: without it, a screenshot could catch a rerun half drawn."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning", timeout=90_000)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=90_000)


def screenshot(page, name):
    """The whole page, once the script is done and every picture has loaded."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    # Streamlit sends pictures after the text around them: wait until the script is done and every one has loaded.
    wait_until_idle(page)
    try:
        page.wait_for_function(f"Array.from(document.images).every({IMAGE_LOADED})", timeout=30_000)
    except PlaywrightTimeoutError:
        # A screenshot is for a person to look at, not an assertion: take it anyway, and say what is missing.
        missing = page.evaluate(
            f"Array.from(document.images).filter(image => !({IMAGE_LOADED})(image)).map(image => image.src)"
        )
        warnings.warn(f"{name}.png: {len(missing)} picture(s) had not loaded after 30 s: {missing}", stacklevel=2)
    # The app scrolls inside its own pane, which a full-page shot does not unroll: grow the window instead.
    viewport = page.viewport_size
    content_height = page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollHeight || 0")
    if content_height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": min(content_height, 8000)})
        page.wait_for_timeout(500)
    page.screenshot(path=screenshot_path(name))
    page.set_viewport_size(viewport)


def open_page(page, url):
    """Goes to `url` in pytest-playwright's page and waits for the app to show."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_test_id("stApp")).to_be_visible(timeout=90_000)


def new_page(browser, url):
    """Another session: a page in a context of its own, at `url`, that records the browser's errors."""
    context = browser.new_context(viewport=VIEWPORT)
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
