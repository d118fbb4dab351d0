"""What one view costs a student's browser: Chromium's main-thread time for the move to each Inside VGG16 tab and to
Mistakes, split into script, style, layout and the rest, with the scripts that took the most.

    python benchmarks/view_cost.py --data-dir ../shared/cifar10 [--views "Nearest images,Mistakes"] [--rounds 2]

One server with the shipped models prepared (`python -m vgg prepare --shipped`), one headless Chromium page on the
Data page, the server's warm-up waited for; then, view by view, the page moves there inside the app (as following
the teacher does) while Chrome's own counters (DevTools' Performance metrics) and its sampling profiler run, until the
view is drawn as benchmarks/first_views.py counts it. The first move to a view also loads the code its elements need
(Plotly's, the grid's), so each view is visited --rounds times, the Data page between.
"""

import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

PROJECT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import vgg  # noqa: E402, F401  (TensorFlow's environment, before it is imported)
from app_pages.pages import DATA  # noqa: E402
from benchmarks.browser import browsers_cpu_seconds, launch_chromium, streamlit_server, warmed_up  # noqa: E402
from benchmarks.first_paint import wait_until_drawn  # noqa: E402
from benchmarks.first_views import COMPUTING, CONTENT, DRAWN_TIMEOUT, VIEWS, WATCH, view_link  # noqa: E402
from vgg.data.cifar10 import DATA_DIR_VARIABLE  # noqa: E402
from vgg.runs.record import SHIPPED_LABEL  # noqa: E402

# DevTools' Performance.getMetrics counters of the page's main thread, in seconds.
COUNTERS = {
    "task": "TaskDuration",
    "script": "ScriptDuration",
    "style": "RecalcStyleDuration",
    "layout": "LayoutDuration",
}
TOP_SCRIPTS = 5


def counters(cdp):
    metrics = {metric["name"]: metric["value"] for metric in cdp.send("Performance.getMetrics")["metrics"]}
    return {name: metrics[counter] for name, counter in COUNTERS.items()}


def script_seconds(profile):
    """{script file: seconds of samples in it} from a DevTools CPU profile, by each sample's own function."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    seconds = collections.Counter()
    deltas = profile.get("timeDeltas", [])
    for node_id, delta in zip(profile.get("samples", []), deltas, strict=False):
        frame = nodes[node_id]["callFrame"]
        # Samples outside any script are named by the profiler itself: "(program)" (the browser's own work),
        # "(garbage collector)"; "(idle)" is no work.
        where = frame["url"].rsplit("/", 1)[-1] or frame["functionName"]
        seconds[where] += delta / 1e6
    seconds.pop("(idle)", None)
    return seconds


def move_to(page, cdp, link, view):
    """(main thread's counters, Chromium's CPU seconds, top scripts, seconds to drawn) of one move inside the app."""
    before, browsers = counters(cdp), browsers_cpu_seconds()
    cdp.send("Profiler.start")
    page.evaluate(WATCH, [list(COMPUTING), CONTENT, link, view])
    deadline = time.monotonic() + DRAWN_TIMEOUT
    while page.evaluate("window.__drawnAt") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    drawn = page.evaluate("window.__drawnAt")
    profile = cdp.send("Profiler.stop")["profile"]
    after = counters(cdp)
    row = {name: round(after[name] - before[name], 3) for name in COUNTERS}
    row["other"] = round(row["task"] - row["script"] - row["style"] - row["layout"], 3)
    top = script_seconds(profile).most_common(TOP_SCRIPTS)
    row["chromium CPU s"] = round(browsers_cpu_seconds() - browsers, 2)  # Every process: raster, network too.
    row["drawn s"] = None if drawn is None else round(drawn / 1000, 2)
    row["top scripts"] = {name: round(seconds, 3) for name, seconds in top}
    return row


def measure(args, environment):
    from playwright.sync_api import sync_playwright

    rows = {}
    with (
        tempfile.NamedTemporaryFile("w+", suffix=".log") as log,
        sync_playwright() as playwright,
        streamlit_server(environment, output=log) as (_, url),
    ):
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        page.goto(f"{url}/{DATA.path}")
        wait_until_drawn(page)
        print(warmed_up(pathlib.Path(log.name)), flush=True)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        cdp.send("Profiler.enable")
        for round_number in range(1, args.rounds + 1):
            for view in args.views:
                rows[f"{view}, visit {round_number}"] = row = move_to(
                    page, cdp, view_link(url, view, SHIPPED_LABEL), view
                )
                print(f"{view}, visit {round_number}: {json.dumps(row)}", flush=True)
                page.goto(f"{url}/{DATA.path}")
                wait_until_drawn(page)
        browser.close()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="real CIFAR-10 as an image folder (default: VGG_DATA_DIR)")
    parser.add_argument("--views", type=lambda text: text.split(","), default=VIEWS, help=f"of {VIEWS}")
    parser.add_argument("--rounds", type=int, default=2, help="visits to each view")
    args = parser.parse_args()
    data_dir = pathlib.Path(args.data_dir or os.environ[DATA_DIR_VARIABLE]).resolve()
    with tempfile.TemporaryDirectory() as folder:
        environment = dict(os.environ, VGG_DATA_DIR=str(data_dir), VGG_RUNS_DIR=str(pathlib.Path(folder) / "runs"))
        os.chdir(PROJECT)
        subprocess.run([sys.executable, "-m", "vgg", "prepare", "--shipped"], env=environment, check=True)
        print(json.dumps(measure(args, environment)))


if __name__ == "__main__":
    main()
