"""The Inside VGG16 page's Epoch slider in Chromium: seconds from a move of the slider to the new answer on the page,
the first time an epoch is chosen (its model loads on the server) and later (cached), and the screenshots
docs/screenshots/snapshots-*.png at epoch 0 and at the last epoch.

    python benchmarks/epoch_slider.py --runs-dir /tmp/snap-runs --model "Run cpu-snapshots (final)"
"""

import argparse
import os
import pathlib
import sys
import time

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
from benchmarks.browser import docs_screenshot, launch_chromium, streamlit_server, wait_until_idle  # noqa: E402


def move(page, key):
    """Seconds from pressing `key` on the Epoch slider until the model's answer on the page has changed."""
    before = page.get_by_text("The model says").inner_text()
    page.get_by_role("slider").first.focus()  # The Epoch slider is the page's first.
    start = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(
        "text => !Array.from(document.querySelectorAll('p')).some(p => p.innerText === text)",
        arg=before,
        timeout=60_000,
    )
    seconds = time.perf_counter() - start
    wait_until_idle(page)
    return seconds


def open_tab(page, name, wait_for_text=None):
    page.get_by_role("tab", name=name).click()
    if wait_for_text:
        page.get_by_text(wait_for_text).wait_for(timeout=60_000)
    wait_until_idle(page)
    page.wait_for_timeout(1500)  # The tab's pictures fade in.


def measure(url, model):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{url}/inside")
        wait_until_idle(page)
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=model).click()
        wait_until_idle(page)
        open_tab(page, "Feature maps", "The model says")
        docs_screenshot(page, "snapshots-last-epoch")
        for attempt in ("first", "later", "later"):
            print(f"{attempt}: to epoch 0 {move(page, 'Home'):.2f} s, back to the last epoch {move(page, 'End'):.2f} s")
        move(page, "Home")
        docs_screenshot(page, "snapshots-epoch-0")
        open_tab(page, "Filters", "these filters are random numbers")
        docs_screenshot(page, "snapshots-filters-epoch-0")
        open_tab(page, "Where it looks")
        docs_screenshot(page, "snapshots-attention-epoch-0")
        page.get_by_role("slider").first.focus()
        page.keyboard.press("End")
        wait_until_idle(page)
        page.wait_for_timeout(1500)
        docs_screenshot(page, "snapshots-attention-last-epoch")
        browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", required=True, help="the runs folder holding the run with snapshots")
    parser.add_argument("--model", required=True, help="its label in the Model chooser")
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT.parent / "shared" / "cifar10"))
    arguments = parser.parse_args(argv)
    environment = os.environ | {"VGG_RUNS_DIR": arguments.runs_dir, "VGG_DATA_DIR": arguments.data_dir}
    with streamlit_server(environment) as (_, url):
        measure(url, arguments.model)


if __name__ == "__main__":
    main()
