"""What a teacher planning a lesson needs of the pages, in headless Chromium: each page at its own path,
the shown run's chart in the first screen on a projector, a stopped and resumed run drawn forwards."""

import re
import time
import urllib.parse

import pytest

from browser_helpers import new_page, screenshot, screenshot_path, wait_until_idle
from helpers import tiny_config
from vgg.classroom.launch import launch, wait_for
from vgg.runs.folder import open_run
from vgg.runs.status import State

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

HEADINGS = {"data": "CIFAR-10", "train": "Train VGG16", "inside": "Inside VGG16", "predict": "What does VGG16 see?"}
PROJECTOR_SIZES = [(1280, 720), (1024, 768)]


def open_in(browser, url, width, height):
    return new_page(browser, url, viewport={"width": width, "height": height})


@pytest.mark.parametrize("path", list(HEADINGS))
def test_every_page_answers_at_its_own_path(browser, server, path):
    page = open_in(browser, f"{server.url}/{path}", 1280, 720)
    expect(page.get_by_role("heading", name=HEADINGS[path])).to_be_visible(timeout=90_000)
    wait_until_idle(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    # The page keeps its view in the address's query (app_pages/links.py); its path is the page's own.
    assert urllib.parse.urlparse(page.url).path.rstrip("/").endswith(f"/{path}")
    page.context.close()


@pytest.mark.parametrize(("width", "height"), PROJECTOR_SIZES, ids=lambda size: str(size))
def test_the_shown_runs_chart_is_in_the_first_screen(browser, server, width, height):
    page = open_in(browser, f"{server.url}/train", width, height)
    expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=90_000)
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible(timeout=90_000)
    wait_until_idle(page)
    box = chart.bounding_box()
    page.screenshot(path=screenshot_path(f"train-first-screen-{width}x{height}"))
    # The progress bar and at least the upper half of the loss and accuracy plots show without scrolling.
    expect(page.get_by_role("progressbar").first).to_be_in_viewport()
    assert box["y"] + box["height"] / 2 <= height, f"the chart starts at y={box['y']:.0f} of a {height}-pixel screen"
    page.context.close()


def chart_x(page):
    return page.evaluate(
        "() => { const plot = document.querySelector('.js-plotly-plot');"
        " return plot && plot.data ? Array.from(plot.data[0].x) : []; }"
    )


def test_a_run_stopped_mid_epoch_and_resumed_draws_forwards(browser, server, image_folder):
    run, process = launch(
        server.runs_dir, "resumed", config=tiny_config(epochs=6, batch_size=8), data_dir=image_folder, title="resumed"
    )
    try:
        assert wait_for(run, (State.RUNNING,), 120).state == State.RUNNING
        deadline = time.monotonic() + 120
        while not any(1.2 < row.epoch < 1.8 for row in run.metrics().batches) and time.monotonic() < deadline:
            time.sleep(0.2)
        run.request_stop()
        assert process.wait(timeout=120) == 0
        stopped_at = run.metrics().batches[-1].epoch
        assert stopped_at % 1, f"the stop should fall mid-epoch, not at {stopped_at}"
        page = open_in(browser, f"{server.url}/train", 1280, 900)
        expect(page.get_by_text(re.compile(r"resumed is stopped"))).to_be_visible(timeout=90_000)
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_text(re.compile(r"resumed is (finished|running)"))).to_be_visible(timeout=120_000)
        assert wait_for(open_run(server.runs_dir, "resumed"), (State.FINISHED,), 240).state == State.FINISHED
        page.reload()
        expect(page.get_by_text(re.compile(r"resumed is finished"))).to_be_visible(timeout=90_000)
        wait_until_idle(page)
        page.wait_for_function(
            "() => { const plot = document.querySelector('.js-plotly-plot');"
            " return plot && plot.data && plot.data[0].x.length > 10; }",
            timeout=60_000,
        )
        xs = chart_x(page)
        assert len(xs) > 10 and xs == sorted(xs), f"the chart runs backwards: {xs}"
        screenshot(page, "train-resumed-finished")
        page.context.close()
    finally:
        if process.poll() is None:
            process.kill()
