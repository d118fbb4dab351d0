"""The training doctor in headless Chromium: on a fresh install the blog's replay shows the doctor's verdict and
heatmaps; on a stuck run of one's own, the fix button starts the fixed run, overlaid on the first."""

import re

import pytest

from browser_helpers import new_page, screenshot, wait_until_idle
from helpers import train_quietly
from vgg.classroom.replays import REPLAYS_DIR
from vgg.core.config import PRESETS
from vgg.runs.folder import create_run

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(scope="module")
def stuck_runs(tmp_path_factory, image_folder):
    """A runs folder holding one blog-recipe run, stuck at chance as the blog's was."""
    folder = tmp_path_factory.mktemp("stuck-runs")
    config = PRESETS["blog"].replace(width=0.25, epochs=1, validation_size=100, log_every_seconds=0.0)
    run = create_run(folder, config, name="blog", preset="blog", data_dir=str(image_folder))
    assert train_quietly(run, image_folder).state == "finished"
    return folder


@pytest.mark.skipif(not (REPLAYS_DIR / "blog-short").exists(), reason="assets/replays is missing")
def test_a_fresh_install_replays_the_blogs_run_with_the_doctors_verdict(browser, fresh_server):
    server = fresh_server()
    page = new_page(browser, f"{server.url}/train", viewport={"width": 1024, "height": 768})
    expect(page.get_by_text("No runs yet")).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"The training doctor, \d+ s into the blog's run"))).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_text(re.compile(r"The network is stuck at chance"))).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=60_000)  # Curves, heatmaps, dead units.
    page.get_by_role("button", name="Play from the start").click()
    expect(page.get_by_text(re.compile(r"^\d+ s of \d+ s of training$"))).to_be_visible(timeout=30_000)
    wait_until_idle(page)
    screenshot(page, "train-replay")
    page.context.close()


def test_the_fix_button_starts_the_fixed_run_overlaid_on_the_stuck_one(browser, fresh_server, stuck_runs):
    server = fresh_server(stuck_runs)
    page = new_page(browser, f"{server.url}/train", viewport={"width": 1024, "height": 900})
    expect(page.get_by_text(re.compile(r"stuck at chance")).first).to_be_visible(timeout=90_000)
    wait_until_idle(page)
    screenshot(page, "train-doctor-stuck")
    page.get_by_role("button", name="Start the fixed run").click()
    expect(page.get_by_text(re.compile(r"is (queued|starting|running|finished) ·"))).to_be_visible(timeout=60_000)
    overlay = page.get_by_test_id("stMultiSelect").filter(has_text="Overlay other runs")
    expect(overlay).to_contain_text("blog", timeout=60_000)
    expect(page.get_by_text(re.compile(r", fix 1")).first).to_be_visible(timeout=60_000)
    page.context.close()
