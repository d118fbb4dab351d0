"""The slowest first view of each Inside VGG16 tab and of Mistakes with many sessions opening it at once (issue 35:
<= 3 s), for a finished run's model and for the shipped model, in headless Chromium against one server.

    python benchmarks/first_views.py --data-dir ../shared/cifar10 [--sessions 10] [--images 2000]
        [--views "Nearest images,Mistakes"] [--models run,shipped] [--browsers new|open|following]
        [--clients protocol]

It trains a short real run (the cpu preset's model on --images training images, one epoch), whose process prepares
its analyses as any finished run's does, and prepares the shipped models (`python -m vgg prepare --shipped`) with
the server's images and cache; starts one server; lets one first visitor open the Data page, as a class's teacher
would, and waits for the server's line saying its warm-up is done (app_pages/warm.py: it is printed); then, view
by view, opens --sessions browser contexts on the view's link at once. A page counts as drawn when its content (a
picture, chart or table in the open tab, or in Mistakes' page) shows, the app is idle, every picture has loaded and
no "Computing ..." or "Waiting to compute ..." line shows; it is timed in the page from its navigation's start.
Each view's row says whether any session saw such a line, i.e. whether the server computed.

Chromium's sessions draw on the server's own two cores, where a class's devices would draw on their own: with
`--clients protocol` each session is instead a client of Streamlit's protocol (benchmarks/stream_client.py), and a
view counts as delivered when its script run has ended and every picture it names is downloaded: the server's part
of the first view, for as many sessions as a class has (--sessions 30).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

PROJECT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import vgg  # noqa: E402, F401  (TensorFlow's environment, before it is imported)
from app_pages.pages import DATA, INSIDE, MISTAKES  # noqa: E402
from app_pages.warm import WARM_UP_VARIABLE  # noqa: E402
from benchmarks import stream_client  # noqa: E402
from benchmarks.browser import (  # noqa: E402
    PROJECT_ROOT,
    browsers_cpu_seconds,
    cpu_seconds,
    launch_chromium,
    print_browser_bench,
    screenshot,
    streamlit_server,
    wait_until_idle,
    warmed_up,
)
from benchmarks.first_paint import wait_until_drawn  # noqa: E402
from vgg.core.config import preset  # noqa: E402
from vgg.data.cifar10 import DATA_DIR_VARIABLE  # noqa: E402
from vgg.explain.ready import RUN_VARIABLE  # noqa: E402
from vgg.runs.record import SHIPPED_LABEL  # noqa: E402

TABS = ["Architecture", "Feature maps", "Where it looks", "Nearest images", "Filters"]  # app_pages/inside_page.py
VIEWS = [*TABS, "Mistakes"]
CONTENT = (
    "[data-testid=stImage] img, [data-testid=stPlotlyChart], [data-testid=stDataFrame], "
    "[data-testid=stGraphVizChart], [data-testid=stVegaLiteChart], [data-testid=stTable]"
)
COMPUTING = ("Computing ", "Waiting to compute ")  # app_pages/computed.py progress_bar
# Notes the first moment (ms) the view is drawn, and whether a computing line ever showed. The open tab's panel is the
# one visible; Mistakes has no tabs. Without a link it runs in every page from its start and times from its
# navigation. With one (--browsers following) it moves the open page there inside the app, as following the teacher
# does (app_pages/follow_view.py: st.switch_page, no reload), and times from that moment, once the view's page and
# tab show.
WATCH = """
([busy, selector, link, view]) => {
  window.__drawnAt = null; window.__sawComputing = false;
  const started = link ? performance.now() : 0;
  const arrived = () => {
    if (!link) return true;
    const tab = document.querySelector("[role=tab][aria-selected=true]");
    const heading = document.querySelector("h1");
    return view === "Mistakes" ? !tab && heading && heading.innerText.includes("Mistakes")
      : tab && tab.innerText.trim() === view;
  };
  const tick = () => {
    const text = document.body ? document.body.innerText : "";
    if (busy.some(line => text.includes(line))) window.__sawComputing = true;
    if (window.__drawnAt !== null) return;
    const app = document.querySelector("[data-testid=stApp]");
    const panels = Array.from(document.querySelectorAll("[role=tabpanel]")).filter(p => p.offsetParent !== null);
    const scope = panels.length ? panels[0] : document.querySelector("[data-testid=stMain]");
    const content = scope && Array.from(scope.querySelectorAll(selector)).some(e => e.offsetParent !== null);
    const idle = app && app.dataset.testScriptState === "notRunning"
      && !document.querySelector("[data-testid=stStatusWidget]");
    const loaded = Array.from(document.images).every(i => i.complete && i.naturalWidth > 0);
    if (arrived() && content && idle && loaded && !busy.some(line => text.includes(line))) {
      window.__drawnAt = performance.now() - started;
    }
  };
  setInterval(tick, 25);
  if (link) {
    history.pushState(null, "", link);
    window.dispatchEvent(new PopStateEvent("popstate", {state: null}));
  }
}
"""
MODELS = {"run": "Run bench (final)", "shipped": SHIPPED_LABEL}  # The bench's two models, as the pickers name them.
DRAWN_TIMEOUT = 300  # Seconds for every session's view; a first view that computes can take a minute on 2 cores.


def finished_run(runs_dir, data_dir, images):
    """A short real run of the cpu preset's model, trained and its analyses prepared by its own process's code."""
    from vgg.runs.folder import create_run
    from vgg.runs.status import State
    from vgg.training.trainer import train_run

    config = preset("cpu").replace(train_subset=images, epochs=1)
    run = create_run(runs_dir, config, name="bench", data_dir=str(data_dir), title="First views")
    started = time.perf_counter()
    status = train_run(run, data_dir=data_dir, progress=lambda message: None)
    if status.state != State.FINISHED:
        raise RuntimeError(f"The run did not finish: {status.traceback}")
    print(f"trained {images:,} images for 1 epoch and prepared its analyses in {time.perf_counter() - started:.0f} s")
    return run


def view_link(url, view, model):
    """The address that opens `view` on `model` (app_pages/links.py parameters), on the first cat sample."""
    if view == "Mistakes":
        return f"{url}/{MISTAKES.path}?" + urllib.parse.urlencode({"model": model})
    query = {"model": model, "class": "cat", "index": 0, "tab": view}
    return f"{url}/{INSIDE.path}?" + urllib.parse.urlencode(query)


def open_at_once(browser, link, sessions, shot=None, opened=None, server_pid=None, in_app=None):
    """([seconds to each session's drawn view], whether any session saw a computing line, the server's and the
    browsers' CPU seconds meanwhile): `sessions` fresh
    contexts navigate to `link` together; with `opened` (the Data page's address), each has the app open there
    first, as a class's browsers have after the teacher's first link, so Streamlit's scripts come from its cache;
    with `in_app` (the view's name) too, each then moves there inside the app instead of loading the address."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1100}) for _ in range(sessions)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages if opened else []:
            page.goto(opened)
            wait_until_drawn(page)
        for page in pages:
            page.add_init_script(f"({WATCH})({json.dumps([list(COMPUTING), CONTENT, None, None])})")
        used, browsers = (cpu_seconds(server_pid) if server_pid else 0.0), browsers_cpu_seconds()
        for page in pages:
            if in_app:
                page.evaluate(WATCH, [list(COMPUTING), CONTENT, link, in_app])
            else:
                page.goto(link, wait_until="commit")
        deadline = time.monotonic() + DRAWN_TIMEOUT
        while not all(page.evaluate("window.__drawnAt") is not None for page in pages):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        drawn = [page.evaluate("window.__drawnAt") for page in pages]
        seconds = [None if value is None else value / 1000 for value in drawn]
        computed = any(page.evaluate("window.__sawComputing") for page in pages)
        server_cpu = cpu_seconds(server_pid) - used if server_pid else None
        browsers = browsers_cpu_seconds() - browsers
        wait_until_idle(pages[0])
        if shot:
            screenshot(pages[0], shot)
        return seconds, computed, server_cpu, browsers
    finally:
        for context in contexts:
            context.close()


def rounded(seconds):
    return None if seconds is None else round(seconds, 2)


def protocol_row(url, link, sessions, server_pid):
    """One view's row with `sessions` protocol clients (benchmarks/stream_client.py) opening `link` together: the
    server's part of a class's first view, with no browser on the server's cores."""
    used = cpu_seconds(server_pid)
    deliveries = stream_client.open_at_once(url, link, sessions)
    seconds = [delivery.seconds for delivery in deliveries]
    return {
        "slowest": rounded(max(seconds)),
        "median": rounded(statistics.median(seconds)),
        "slowest script end": rounded(max(delivery.script_seconds for delivery in deliveries)),
        "pictures each": deliveries[0].pictures,
        "computed on the server": any(text.startswith(COMPUTING) for d in deliveries for text in d.texts),
        "server CPU s": rounded(cpu_seconds(server_pid) - used),
    }


def measure_protocol(args, environment):
    """{view: row} with protocol clients in place of Chromium: the first visitor's Data page, the warm-up, then each
    view opened by --sessions clients at once."""
    rows = {}
    with (
        tempfile.NamedTemporaryFile("w+", suffix=".log") as log,
        streamlit_server(environment, output=log) as (server, url),
    ):
        stream_client.open_at_once(url, f"{url}/{DATA.path}", 1)
        off = environment.get(WARM_UP_VARIABLE) == "0"
        print("warm-up off" if off else warmed_up(pathlib.Path(log.name)), flush=True)
        for which in args.models:
            for view in args.views:
                rows[f"{which} · {view}"] = row = protocol_row(
                    url, view_link(url, view, MODELS[which]), args.sessions, server.pid
                )
                print(f"{which} model · {view}: {row}", flush=True)
    return rows


def measure(args, runs_dir, environment):
    from playwright.sync_api import sync_playwright

    rows = {}
    # The server's console goes to a file, for its warm-up's line.
    with (
        tempfile.NamedTemporaryFile("w+", suffix=".log") as log,
        sync_playwright() as playwright,
        streamlit_server(environment, output=log) as (server, url),
    ):
        browser = launch_chromium(playwright)
        try:
            teacher = browser.new_page()
            started = time.perf_counter()
            teacher.goto(f"{url}/{DATA.path}")
            wait_until_drawn(teacher)
            print(f"first visitor's Data page: {time.perf_counter() - started:.1f} s")
            # As a teacher speaks before the class opens Inside: the server's warm-up (app_pages/warm.py) ends.
            off = environment.get(WARM_UP_VARIABLE) == "0"
            print("warm-up off" if off else warmed_up(pathlib.Path(log.name)), flush=True)
            for which in args.models:
                for view in args.views:
                    shot = PROJECT_ROOT / "tests" / "screenshots" / f"first_view_{which}_{view.replace(' ', '_')}.png"
                    link = view_link(url, view, MODELS[which])
                    opened = f"{url}/{DATA.path}" if args.browsers != "new" else None
                    seconds, computed, server_cpu, browsers_cpu = open_at_once(
                        browser,
                        link,
                        args.sessions,
                        shot,
                        opened,
                        server.pid,
                        in_app=args.browsers == "following" and view,
                    )
                    done = [value for value in seconds if value is not None]
                    row = {
                        "slowest": rounded(max(done)) if len(done) == len(seconds) else None,
                        "median": rounded(statistics.median(done)) if done else None,
                        "not drawn": len(seconds) - len(done),
                        "computed on the server": computed,
                        "server CPU s": rounded(server_cpu),
                        "browsers CPU s": rounded(browsers_cpu),
                    }
                    rows[f"{which} · {view}"] = row
                    print(f"{which} model · {view}: {row}", flush=True)
        finally:
            browser.close()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="real CIFAR-10 as an image folder (default: VGG_DATA_DIR)")
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions opening each view at once")
    parser.add_argument("--images", type=int, default=2000, help="training images of the run's one epoch")
    parser.add_argument("--views", type=lambda text: text.split(","), default=VIEWS, help=f"of {VIEWS}")
    parser.add_argument(
        "--browsers",
        choices=["new", "open", "following"],
        default="new",
        help="new: each session's browser meets the app for the first time; open: it has the Data page open already "
        "and loads the view's address; following: it has the Data page open and moves to the view inside the app, "
        "as a class following the teacher does",
    )
    parser.add_argument("--models", type=lambda text: text.split(","), default=["run", "shipped"])
    parser.add_argument(
        "--clients",
        choices=["chromium", "protocol"],
        default="chromium",
        help="chromium: a headless Chromium context per session, on the server's cores; protocol: a client of "
        "Streamlit's own protocol per session (benchmarks/stream_client.py), the server's part alone",
    )
    args = parser.parse_args()
    from vgg.model.device import cpu_name

    flags = pathlib.Path("/proc/cpuinfo").read_text() if pathlib.Path("/proc/cpuinfo").exists() else ""
    print(f"{cpu_name()}, {os.cpu_count()} cores, AMX: {'amx_tile' in flags}, load average {os.getloadavg()}")
    data_dir = pathlib.Path(args.data_dir or os.environ[DATA_DIR_VARIABLE]).resolve()
    with tempfile.TemporaryDirectory() as folder:
        runs_dir = pathlib.Path(folder) / "runs"
        # The server's images and its runs; the usual image cache, where the shipped models' analyses are kept.
        environment = dict(os.environ, VGG_DATA_DIR=str(data_dir), VGG_RUNS_DIR=str(runs_dir))
        os.environ.update(environment, **{RUN_VARIABLE: "1"})
        os.chdir(PROJECT)
        if "run" in args.models:
            finished_run(runs_dir, data_dir, args.images)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vgg", "prepare", "--shipped"], env=environment, check=True)
        print(f"prepared the shipped models in {time.perf_counter() - started:.0f} s")
        if args.clients == "protocol":
            print(json.dumps(measure_protocol(args, environment)))
        else:
            print_browser_bench(lambda: measure(args, runs_dir, environment))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
