"""End to end in headless Chromium: the real server, the real browser, a real training process.

Screenshots land in tests/screenshots/ for a person to look at.
"""

import re
import time

import pytest

from browser_helpers import (
    choose_model,
    no_exception,
    open_page,
    screenshot,
    screenshot_path,
    set_number,
    start_training,
    wait_until_idle,
)
from helpers import generated_images, png_bytes
from vgg.classroom.launch import stop_active_runs

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
# A loaded 2-core machine (a training run beside the tests) redraws slowly: wait up to 20 s by default.
expect.set_options(timeout=20_000)


def test_every_page_renders_in_chromium(page, server):
    open_page(page, server.url)
    expect(page.get_by_role("heading", name="CIFAR-10")).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"10 classes, 32x32 pixels each"))).to_be_visible()
    expect(page.get_by_test_id("stImage").first).to_be_visible()
    no_exception(page)
    screenshot(page, "data")
    for link, heading, name in (
        ("Train", "Train VGG16", "train"),
        ("Inside VGG16", "Inside VGG16", "inside"),
        ("Predict", "What does VGG16 see?", "predict"),
    ):
        page.get_by_test_id("stSidebarNav").get_by_text(link, exact=True).click()
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=90_000)
        page.wait_for_timeout(1500)
        no_exception(page)
        screenshot(page, name)


def test_inside_page_draws_feature_maps_of_a_sample(page, server):
    open_page(page, f"{server.url}/inside")
    expect(page.get_by_text("Block 1:").first).to_be_visible(timeout=90_000)
    choose_model(page, "tiny (final)")
    page.get_by_role("tab", name="Feature maps").click()
    expect(page.get_by_text("The model says")).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"Block 1, conv 1 \(32x32\)")).first).to_be_visible()
    # The last block's maps come last: the page is done drawing when they show.
    expect(page.get_by_text(re.compile(r"Block 5: 2x2")).first).to_be_visible(timeout=60_000)
    no_exception(page)
    screenshot(page, "inside-feature-maps")
    page.get_by_role("tab", name="Filters").click()
    expect(page.get_by_text("First layer")).to_be_visible()
    # The channels' cards come inline in one HTML grid (app_pages/picture_grid.py): the browser must show them.
    expect(page.locator("figcaption", has_text="Channel 0")).to_be_visible(timeout=90_000)
    widths = page.locator(".vgg-grid img").evaluate_all("images => images.map(image => image.naturalWidth)")
    assert widths and all(width > 0 for width in widths), widths
    screenshot(page, "inside-filters")


def test_upload_an_image_and_see_a_prediction(page, server, tmp_path):
    images, labels = generated_images(per_class=1, seed=9)
    ship = tmp_path / "my-ship.png"
    ship.write_bytes(png_bytes(images[list(labels).index(8)].repeat(8, axis=0).repeat(8, axis=1)))
    not_an_image = tmp_path / "homework.jpg"
    not_an_image.write_text("This is my homework, not a photo.")
    open_page(page, f"{server.url}/predict")
    expect(page.get_by_role("heading", name="What does VGG16 see?")).to_be_visible(timeout=90_000)
    choose_model(page, "tiny (final)")
    page.locator("input[type=file]").first.set_input_files([str(ship), str(not_an_image)])
    expect(page.get_by_text(re.compile(r"my-ship\.png: ship"))).to_be_visible(timeout=90_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(1, timeout=90_000)
    expect(page.get_by_text("homework.jpg is not an image that can be read")).to_be_visible()
    no_exception(page)
    screenshot(page, "predict-upload")


def chart_points(page, run_prefix="cpu-"):
    """How many training points the live loss chart shows for the new run (0 before it is drawn,
    or while the chart still shows the fixture's 'tiny' run)."""
    return page.evaluate(
        "(prefix) => { const plot = document.querySelector('.js-plotly-plot');"
        " return plot && plot.data && plot.data[0].meta.startsWith(prefix) ? plot.data[0].x.length : 0; }",
        run_prefix,
    )


def test_train_a_tiny_run_and_watch_its_chart_grow(page, server):
    open_page(page, f"{server.url}/train")
    expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=90_000)
    set_number(page, "Epochs", 40)
    # Batch 256 leaves one step per epoch on 480 images; 32 gives 15, so the curve grows steadily.
    page.get_by_text("Advanced settings").click()
    batch_slider = page.get_by_role("slider").nth(1)
    batch_slider.focus()
    for _ in range(3):
        batch_slider.press("ArrowLeft")
    page.wait_for_timeout(800)
    start_training(page)
    seen = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        seen.add(chart_points(page))
        if page.get_by_text(re.compile(r"is finished ·")).count():
            break
        page.wait_for_timeout(500)
    expect(page.get_by_text(re.compile(r"is finished ·"))).to_be_visible()
    growing = sorted(count for count in seen if count)
    assert len(growing) >= 2, f"the chart never grew while training: point counts seen {sorted(seen)}"
    # The page redraws whole when the run ends. Once that is done, the finished run stays in view
    # with its whole curve, and nothing of the live view is left behind.
    wait_until_idle(page)
    try:
        page.wait_for_function(
            "([prefix, least]) => { const plot = document.querySelector('.js-plotly-plot');"
            " return plot && plot.data && plot.data[0].meta.startsWith(prefix) && plot.data[0].x.length >= least; }",
            arg=["cpu-", max(growing)],
            timeout=20_000,
        )
    except playwright_api.TimeoutError:
        screenshot(page, "train-finished")
        pytest.fail(
            f"the finished run's chart shows {chart_points(page)} points, fewer than the {max(growing)} seen live"
        )
    screenshot(page, "train-finished")
    expect(page.get_by_text(re.compile(r"Epoch 40\.00 of 40")).first).to_be_visible()
    expect(page.get_by_test_id("stMultiSelect").filter(has_text="Overlay other runs")).to_have_count(1)
    # One training chart (the doctor's heatmaps and the blog's replay draw charts of their own).
    expect(page.locator("[class*='st-key-chart_'] .js-plotly-plot")).to_have_count(1)
    no_exception(page)


def x_range(page):
    return page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range")


def pause_and_zoom(page):
    """While a run trains, pausing the updates keeps the reader's zoom; resuming them catches up."""
    page.wait_for_function(
        "() => { const plot = document.querySelector('.js-plotly-plot');"
        " return plot && plot.data && plot.data[0].x.length >= 3; }",
        timeout=120_000,
    )
    page.get_by_text("Pause updates").click()
    # The click redraws the run once more, then the whole page: wait until the chart stops changing.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        wait_until_idle(page)
        points = chart_points(page)
        page.wait_for_timeout(2500)
        if chart_points(page) == points:
            break
    box = page.evaluate(
        "() => { const plot = document.querySelector('.js-plotly-plot');"
        " plot.scrollIntoView({block: 'center'}); const r = plot.getBoundingClientRect();"
        " return {x: r.x, y: r.y}; }"
    )
    whole = x_range(page)
    # Drag a zoom box over the left part of the loss plot.
    page.mouse.move(box["x"] + 60, box["y"] + 80)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 250, steps=8)
    page.mouse.up()
    zoomed = x_range(page)
    assert zoomed != whole, "dragging a box over the chart did not zoom it"
    page.wait_for_timeout(4000)
    assert x_range(page) == zoomed, f"the paused chart lost its zoom: {zoomed} became {x_range(page)}"
    assert chart_points(page) == points
    # Not the whole-page helper: growing the window redraws the chart, and Streamlit then drops the zoom.
    page.screenshot(path=screenshot_path("train-paused"))
    page.get_by_text("Pause updates").click()
    page.wait_for_function(
        "(least) => { const plot = document.querySelector('.js-plotly-plot');"
        " return plot && plot.data && plot.data[0].x.length > least; }",
        arg=points,
        timeout=60_000,
    )


def test_stop_a_run_from_the_browser(page, server):
    # A run left training by an earlier test would hold the slot: this one's run would wait in the queue.
    stop_active_runs(server.runs_dir)
    open_page(page, f"{server.url}/train")
    expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=90_000)
    set_number(page, "Epochs", 500)
    start_training(page)
    expect(page.get_by_text(re.compile(r"is running ·"))).to_be_visible(timeout=90_000)
    # The run shown is this one, long enough to be stopped while it trains.
    expect(page.get_by_text(re.compile(r"of 500 ·"))).to_be_visible(timeout=90_000)
    expect(page.get_by_role("button", name="Queue run")).to_be_visible()
    pause_and_zoom(page)
    # Turning the updates back on redraws the whole page, replay and diagnosis included: slow on a loaded machine.
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible(timeout=120_000)
    stop.click()
    expect(page.get_by_text(re.compile(r"is stopped ·"))).to_be_visible(timeout=120_000)
    screenshot(page, "train-stopped")
    expect(page.get_by_role("button", name="Resume")).to_be_visible(timeout=30_000)
    no_exception(page)
