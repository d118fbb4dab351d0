"""The bench's rows about the app itself, each measured by a script in benchmarks/ run in its own interpreter,
so that the package never imports Playwright nor starts a browser: the first page's paint and what watching
a training run costs the server (the classroom row)."""

import json
import pathlib
import subprocess
import sys

from benchmarks.bench_table import make_row

BENCHMARKS_DIR = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
SERVER_START_TIMEOUT = 90  # Seconds; streamlit on a loaded 2-core machine can take a while.
CLASSROOM_WATCHERS = 10  # Browser pages: thirty would overload two cores by themselves (see the script).
CLASSROOM_SECONDS = 60


def say(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_script(name, arguments, timeout):
    """Runs benchmarks/NAME with `arguments` in its own interpreter and returns the JSON object it prints last:
    its result, or {"skipped": why} when chromium or playwright is missing. Raises RuntimeError when it failed."""
    script = BENCHMARKS_DIR / name
    if not script.is_file():
        return {"skipped": f"benchmarks/{name} is missing"}
    finished = subprocess.run(
        [sys.executable, str(script), *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        result = json.loads(finished.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError(
            f"{name} ended with exit code {finished.returncode}: {finished.stderr.strip()[-2000:]}"
        ) from None
    if result.get("error") is not None:
        raise RuntimeError(result["error"])
    return result


def failed_row(name, unit, target, error):
    row = make_row(name, None, unit, target=target, note=f"failed: {error}")
    row["target_met"] = False
    return row


def streamlit_rows(args):
    """Seconds from starting `streamlit run` to the first page's heading in Chromium, and for a second visitor's
    Data page to be fully drawn (benchmarks/first_paint.py)."""
    name, target = "first page painted", ("value", "<=", 3)
    say("starting streamlit and waiting for the first page's heading in Chromium (benchmarks/first_paint.py)")
    arguments = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    try:
        # The script gives up after its own timeouts (server start, then the heading); this one is for a hung browser.
        result = run_script("first_paint.py", arguments, timeout=4 * SERVER_START_TIMEOUT)
    except Exception as error:  # noqa: BLE001  (a server that fails is a result to report, not a reason to lose the table)
        return [failed_row(row, "s", target, error) for row in (name, "Data page drawn, warm server")]
    warm = "Data page drawn, warm server"
    if result.get("skipped"):
        return [make_row(row, None, "s", target=target, note=f"skipped: {result['skipped']}") for row in (name, warm)]
    first = (
        f"from starting the server process, browser open; the server's CPU until then "
        f"{result['server_cpu_seconds']:.2f} s; the whole Data page (grid, pictures) after "
        f"{result['data_page_drawn_seconds']:.2f} s"
    )
    return [
        make_row(name, result["seconds"], "s", target=target, note=first),
        make_row(
            warm,
            result["data_page_warm_seconds"],
            "s",
            target=("value", "<=", 2),
            note="a second visitor: grid and every picture, the data already loaded once",
        ),
    ]


def classroom_row(args):
    """Cores the server spends per session watching a training run (benchmarks/classroom.py): 30 students
    cost 30 times that. Needs real images, since the run it watches trains on them."""
    name, target = "server cores per watcher", ("value", "<=", 0.01)
    if not args.data_dir:
        return make_row(name, None, "cores", target=target, note="skipped: needs --data-dir (real CIFAR-10 images)")
    say(
        f"training the cpu preset with 0 and then {CLASSROOM_WATCHERS} watching browser sessions "
        f"({CLASSROOM_SECONDS} s each, benchmarks/classroom.py)"
    )
    arguments = [
        "--data-dir",
        str(args.data_dir),
        "--watchers",
        str(CLASSROOM_WATCHERS),
        "--seconds",
        str(CLASSROOM_SECONDS),
    ]
    try:
        result = run_script("classroom.py", arguments, timeout=20 * 60)
    except Exception as error:  # noqa: BLE001  (a failed measurement is a result to report)
        return failed_row(name, "cores", target, error)
    if result.get("skipped"):
        return make_row(name, None, "cores", target=target, note=f"skipped: {result['skipped']}")
    note = (
        f"{result['watchers']} Chromium sessions on the Train page: server {result['server_cores_idle']:.3f} "
        f"cores unwatched, {result['server_cores_watched']:.3f} watched (30 sessions: about "
        f"{result['server_cores_idle'] + 30 * result['server_cores_per_watcher']:.2f}); the run "
        f"{result['run_images_per_second_idle']:,.0f} images/s unwatched, "
        f"{result['run_images_per_second_watched']:,.0f} watched, while the browsers themselves took "
        f"{result['browser_cores']:.2f} cores; {result['page_errors']} page errors"
    )
    row = make_row(name, result["server_cores_per_watcher"], "cores", target=target, note=note)
    if result["page_errors"]:
        row["target_met"] = False
    return row
