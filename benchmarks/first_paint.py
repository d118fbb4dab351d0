"""Seconds from starting `streamlit run` to the first page's heading being visible in headless Chromium.

    python benchmarks/first_paint.py [--data-dir DIR]

Prints one JSON object on stdout: {"seconds": 2.1, ...} (exit code 0), with the server's CPU seconds until then
("server_cpu_seconds": the others' load on shared cores moves it far less), the first visit's Data page fully drawn
("data_page_drawn_seconds"), a second visitor's ("data_page_warm_seconds") and a new tab of the first visitor's
browser, its copy of Streamlit's scripts cached ("data_page_return_seconds"); {"seconds": null, "skipped":
"chromium not installed"} when Debian's chromium or playwright is missing (exit code 3); {"seconds": null,
"error": "..."} when the app did not come up in time (exit code 1). `python -m vgg bench` runs this script for its
"first page painted" row, so that the package itself never imports playwright nor starts a browser.
"""

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.browser import (  # noqa: E402
    CHROMIUM,
    SERVER_START_TIMEOUT,
    cpu_seconds,
    launch_chromium,
    streamlit_server,
)

SKIPPED_EXIT_CODE = 3


def wait_until_drawn(page):
    """Until the Data page's script has finished and its grid and every picture show (or, with no data here, the
    sentence saying how to get it)."""
    timeout = SERVER_START_TIMEOUT * 1000
    page.locator("[data-testid=stDataFrame], [data-testid=stAlert]").first.wait_for(state="visible", timeout=timeout)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
        " === 'notRunning' && Array.from(document.images).every(i => i.complete && i.naturalWidth)",
        timeout=timeout,
    )


def first_page_seconds(data_dir=None):
    """{"seconds": from starting `streamlit run` to the first page's heading being visible in Chromium,
    "server_cpu_seconds": the server process's CPU until then, "data_page_drawn_seconds": from the start until that
    first Data page is fully drawn (its grid and every picture), "data_page_warm_seconds": for a second visitor's, in a
    browser new to the app, "data_page_return_seconds": in a new tab of the first visitor's browser}.

    The browser starts before the clock does: a user's browser is open already.
    """
    from playwright.sync_api import sync_playwright

    environment = dict(os.environ)
    if data_dir:
        environment["VGG_DATA_DIR"] = str(data_dir)  # vgg.data.cifar10.DATA_DIR_VARIABLE, which the README documents.
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context().new_page()  # Its context: the returning tab below opens in it.
        start = time.perf_counter()
        try:
            with streamlit_server(environment) as (server, url):
                page.goto(url)
                heading = page.locator("h1, [data-testid=stHeading]").first
                heading.wait_for(state="visible", timeout=SERVER_START_TIMEOUT * 1000)
                result = {"seconds": time.perf_counter() - start, "server_cpu_seconds": cpu_seconds(server.pid)}
                wait_until_drawn(page)  # The first visit loads the data into the server's cache.
                result["data_page_drawn_seconds"] = time.perf_counter() - start
                again = browser.new_page()
                start = time.perf_counter()
                again.goto(f"{url}/data")
                wait_until_drawn(again)
                result["data_page_warm_seconds"] = time.perf_counter() - start
                # A tab of the first visitor's browser: Streamlit's 3 MB of scripts come from its cache.
                returning = page.context.new_page()
                start = time.perf_counter()
                returning.goto(f"{url}/data")
                wait_until_drawn(returning)
                return result | {"data_page_return_seconds": time.perf_counter() - start}
        finally:
            browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="an image folder for the app (VGG_DATA_DIR); default: keras' CIFAR-10")
    args = parser.parse_args(argv)
    if args.data_dir:
        args.data_dir = str(pathlib.Path(args.data_dir).resolve())  # The server runs in the project folder.
    result, exit_code = {"seconds": None}, 0
    if CHROMIUM is None:
        result["skipped"], exit_code = "chromium not installed", SKIPPED_EXIT_CODE
    else:
        try:
            result = {name: round(value, 2) for name, value in first_page_seconds(args.data_dir).items()}
        except ImportError:
            result["skipped"], exit_code = "playwright not installed", SKIPPED_EXIT_CODE
        except Exception as error:  # A server that fails is a result to report, in the same JSON form.
            result["error"], exit_code = str(error), 1
    print(json.dumps(result))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
