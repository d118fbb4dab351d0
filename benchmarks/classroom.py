"""What watching a training run costs the server, per watching session: the bench's classroom row; with
`--follow`, what following the teacher costs and how soon students follow.

    python benchmarks/classroom.py --data-dir ../shared/cifar10 [--watchers 10] [--seconds 60] [--follow]

Starts the app and a `cpu` preset run, then measures over `--seconds`, first with no page open and then
with N watching sessions (headless Chromium pages on the Train page, each a session of its own): the
server process's CPU in cores (from /proc), the browsers' own CPU, the run's images/s (from its metrics
rows) and the errors the pages show. Thirty Chromium pages would overload two cores by themselves, so N
pages measure the cost per session, and 30 sessions cost 30 times that. Prints one JSON object.

With `--follow` there is no run: the app is in class mode with the teacher leading on the Run board, the server's
cores are measured with no page and with N students following (each one's sidebar fragment checks the shared view
every 2 s), then the teacher's view moves to the Data page (the shared file written as the teacher's browser writes
it) and each student's address change is timed.
"""

import argparse
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.browser import (  # noqa: E402
    SERVER_START_TIMEOUT,
    cpu_seconds,
    launch_chromium,
    print_browser_bench,
    streamlit_server,
    warmed_up,
)
from vgg.classroom.follow import View, lead, publish  # noqa: E402
from vgg.classroom.launch import launch, stop_active_runs, wait_for  # noqa: E402
from vgg.core.config import PRESETS  # noqa: E402
from vgg.model.device import cpu_name  # noqa: E402
from vgg.runs.status import State  # noqa: E402

RUN_EPOCHS = 30  # Longer than any measurement: the run trains throughout.


def descendants(root, excluded):
    """Pids below `root` in the process tree, without the subtrees of `excluded` pids."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{entry}/stat") as file:
                    parent = int(file.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in excluded:
                found.append(child)
                stack.append(child)
    return found


def app_server(data_dir, runs_dir, output=subprocess.DEVNULL):
    return streamlit_server(dict(os.environ, VGG_DATA_DIR=str(data_dir), VGG_RUNS_DIR=str(runs_dir)), output)


def measure(server, run, training_pid, seconds):
    """(server cores, browsers' cores, the run's images/s) over `seconds` of wall time."""
    browsers_before = {pid: cpu_seconds(pid) for pid in descendants(os.getpid(), {server.pid, training_pid})}
    server_before, start = cpu_seconds(server.pid), time.monotonic()
    first = run.metrics().batches[-1]
    time.sleep(seconds)
    last, wall = run.metrics().batches[-1], time.monotonic() - start
    browsers = sum(
        cpu_seconds(pid) - browsers_before.get(pid, 0.0) for pid in descendants(os.getpid(), {server.pid, training_pid})
    )
    images = (last.epoch - first.epoch) * run.status().train_images
    return (cpu_seconds(server.pid) - server_before) / wall, browsers / wall, images / wall


def load_a_model(browser, url):
    """Opens Predict once, as any lesson does: from then on the server holds TensorFlow and a model, as in class."""
    page = browser.new_page()
    page.goto(f"{url}/predict")
    page.get_by_text("Upload one or more photos").wait_for(timeout=SERVER_START_TIMEOUT * 1000)
    page.close()


def watch(browser, url, count):
    pages = []
    for _ in range(count):
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.errors = []
        page.on("pageerror", lambda error, page=page: page.errors.append(str(error)))
        page.goto(f"{url}/train")
        pages.append(page)
    for page in pages:
        page.get_by_text("is running").first.wait_for(timeout=SERVER_START_TIMEOUT * 1000)
    return pages


def page_errors(pages):
    shown = sum(
        page.get_by_test_id("stException").count() + page.get_by_test_id("stAlertContentError").count()
        for page in pages
    )
    return shown + sum(len(page.errors) for page in pages)


def classroom(data_dir, watchers, seconds):
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="vgg-classroom-") as runs_dir,
        tempfile.NamedTemporaryFile("w+", suffix=".log") as log,
        app_server(data_dir, runs_dir, log) as (server, url),
    ):
        run, process = launch(
            runs_dir, "classroom", config=PRESETS["cpu"].replace(epochs=RUN_EPOCHS), preset="cpu", data_dir=data_dir
        )
        try:
            if wait_for(run, (State.RUNNING,), 300).state != State.RUNNING:
                raise RuntimeError("the cpu run did not start")
            while len(run.metrics().batches) < 5:  # Past loading the data and compiling the model.
                time.sleep(1)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                load_a_model(browser, url)
                # The first page starts the server's warm-up (app_pages/warm.py), which must not count as idle.
                print(warmed_up(pathlib.Path(log.name)), file=sys.stderr, flush=True)
                idle = measure(server, run, process.pid, seconds)
                pages = watch(browser, url, watchers)
                watched = measure(server, run, process.pid, seconds)
                errors = page_errors(pages)
                browser.close()
        finally:
            stop_active_runs(runs_dir)
    return {
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "watchers": watchers,
        "seconds": seconds,
        "server_cores_idle": round(idle[0], 3),
        "server_cores_watched": round(watched[0], 3),
        "server_cores_per_watcher": round((watched[0] - idle[0]) / watchers, 4),
        "browser_cores": round(watched[1], 3),
        "run_images_per_second_idle": round(idle[2], 1),
        "run_images_per_second_watched": round(watched[2], 1),
        "page_errors": errors,
    }


NOTICE = "Following the teacher: your screen shows theirs."


def server_cores(server, seconds):
    before, start = cpu_seconds(server.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(server.pid) - before) / (time.monotonic() - start)


def students(browser, url, count):
    """`count` student pages on the Run board, each once it shows the following notice."""
    pages = []
    for index in range(count):
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{url}/board?me=S{index}")
        pages.append(page)
    for page in pages:
        page.get_by_text(NOTICE).wait_for(timeout=SERVER_START_TIMEOUT * 1000)
    return pages


def follow_seconds(pages, runs_dir, timeout_seconds=60):
    """Seconds from the teacher's change to each page's address showing it, in the pages' order."""
    publish(runs_dir, View("data", {"classes": "cat,ship"}))
    start, moved = time.monotonic(), {}
    while len(moved) < len(pages) and time.monotonic() - start < timeout_seconds:
        pages[0].wait_for_timeout(50)  # Lets every page's events arrive.
        for index, page in enumerate(pages):
            if index not in moved and "/data?" in page.url:
                moved[index] = time.monotonic() - start
    if len(moved) < len(pages):
        raise RuntimeError(f"{len(pages) - len(moved)} student(s) did not follow within {timeout_seconds} s")
    return [moved[index] for index in range(len(pages))]


def follow_bench(data_dir, count, seconds):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="vgg-follow-") as runs_dir:
        lead(runs_dir, View("board"))
        password = "a bench password"  # Class mode refuses one under 10 characters.
        environment = dict(os.environ, VGG_DATA_DIR=data_dir, VGG_RUNS_DIR=runs_dir, VGG_TEACHER_PASSWORD=password)
        with streamlit_server(environment) as (server, url), sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            idle = server_cores(server, seconds)
            pages = students(browser, url, count)
            following = server_cores(server, seconds)
            moves = follow_seconds(pages, runs_dir)
            browser.close()
    return {
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "students": count,
        "seconds": seconds,
        "server_cores_idle": round(idle, 3),
        "server_cores_following": round(following, 3),
        "server_cores_per_student": round((following - idle) / count, 4),
        "follow_seconds_median": round(statistics.median(moves), 2),
        "follow_seconds_max": round(max(moves), 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="real CIFAR-10 as an image folder (the run trains on it)")
    parser.add_argument("--watchers", type=int, default=10, help="watching browser sessions (default 10)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each measurement (default 60)")
    parser.add_argument("--follow", action="store_true", help="students following the teacher, with no run")
    args = parser.parse_args(argv)
    data_dir = str(pathlib.Path(args.data_dir).resolve())
    measure = follow_bench if args.follow else classroom
    return print_browser_bench(lambda: measure(data_dir, args.watchers, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
