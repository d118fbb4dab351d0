"""What the benchmarks and the browser tests share: starting `streamlit run` until it answers, Debian's Chromium,
and a whole-page screenshot once the app is idle.

Playwright is imported inside the functions, so that importing this module needs no browser packages.
"""

import contextlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
# The curated pictures the benchmarks take for the docs; the tests' own go to the ignored tests/screenshots/.
DOCS_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
# Debian's chromium: Playwright cannot download its own browser on this machine.
CHROMIUM = shutil.which("chromium")
# Flags that keep Chromium working in a container and from reaching for the network, which is closed here.
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 90  # Seconds; streamlit on a loaded 2-core machine can take a while.
VIEWPORT = {"width": 1400, "height": 1100}
IMAGE_LOADED = "image => image.complete && image.naturalWidth > 0"
# Streamlit's grey placeholders for elements whose code has not loaded yet.
SKELETONS = "[data-testid=stSkeleton], [data-testid=stSkeletonElement]"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User plus system CPU seconds of one process so far, or 0 once it has gone: on shared cores, a figure that
    the others' load moves far less than the wall clock."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def browsers_cpu_seconds():
    """User plus system CPU seconds so far of every running Chromium process: what the browsers took from the cores
    they share with the server here, which a class's own devices would spend on their own."""
    total = 0.0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if "chrom" in name.split("(", 1)[-1]:
            fields = fields.split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def free_port():
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(environment, output=subprocess.DEVNULL):
    """`streamlit run streamlit_app.py` on a free port with `environment`, from when it answers its health
    check until the block ends: yields (its process, its address). Raises RuntimeError when it does not answer."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).close()
                break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"streamlit did not answer within {SERVER_START_TIMEOUT} s")
            time.sleep(0.05)
        yield server, url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def print_browser_bench(measure):
    """Prints `measure()`'s JSON object, or why it was skipped (no Chromium, no Playwright); returns the exit code."""
    import json

    if CHROMIUM is None:
        print(json.dumps({"skipped": "chromium not installed"}))
        return 3
    try:
        result = measure()
    except ImportError:
        result = {"skipped": "playwright not installed"}
    print(json.dumps(result))
    return 0


def launch_chromium(playwright):
    """Debian's chromium through Playwright, with the flags above."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGUMENTS)


def wait_until_idle(page):
    """Waits until the script has finished its run, so that what shows is not left over from the one before.

    The "Running..." widget shows only once a run has lasted a moment, so the app's own script state is
    checked too: without it, a screenshot could catch a rerun half drawn."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning", timeout=90_000)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=90_000)


def screenshot(page, path):
    """The whole page at `path`, once the script is done and every picture has loaded."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    # Streamlit sends pictures after the text around them: wait until the script is done and every one has loaded.
    wait_until_idle(page)
    try:
        # Widgets whose code loads on first use show grey placeholders (Streamlit's skeletons) until it has.
        page.wait_for_function(
            f"!document.querySelector('{SKELETONS}') && Array.from(document.images).every({IMAGE_LOADED})",
            timeout=30_000,
        )
    except PlaywrightTimeoutError:
        # A screenshot is for a person to look at, not an assertion: take it anyway, and say what is missing.
        missing = page.evaluate(
            f"Array.from(document.images).filter(image => !({IMAGE_LOADED})(image)).map(image => image.src)"
        )
        placeholders = page.locator(SKELETONS).count()
        name = pathlib.Path(path).name
        warnings.warn(
            f"{name}: {len(missing)} picture(s) and {placeholders} placeholder(s) still there after 30 s: {missing}",
            stacklevel=2,
        )
    # The app scrolls inside its own pane, which a full-page shot does not unroll: grow the window instead.
    viewport = page.viewport_size
    content_height = page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollHeight || 0")
    if content_height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": min(content_height, 8000)})
        page.wait_for_timeout(500)
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)


def docs_screenshot(page, name):
    """A screenshot for the docs: docs/screenshots/NAME.png."""
    screenshot(page, DOCS_SCREENSHOTS / f"{name}.png")


WARM_UP_TIMEOUT = 180  # Seconds: TensorFlow and four models, after a quiet moment.


def warmed_up(log_path, timeout=WARM_UP_TIMEOUT):
    """The server's line saying that its warm-up is done, once it is in its console's `log_path` (with
    VGG_WARM_UP=0 it has none, and the views load TensorFlow and their models themselves)."""
    from app_pages.warm import READY_LINE  # Streamlit's import, only for the benches that wait for it.

    prefix = READY_LINE.split("{")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in log_path.read_text().splitlines() if line.startswith(prefix)]
        if lines:
            return lines[0]
        time.sleep(0.5)
    raise RuntimeError(f"The server did not warm up within {timeout} s: {log_path.read_text()[-2000:]}")
