"""A student runs an experiment end to end in Chromium: a prediction, Start, the live run, the outcome."""

import re

from browser_helpers import new_page, screenshot
from helpers import TINY_EXPERIMENT, experiment_file
from vgg.runs.folder import list_runs


def test_a_student_runs_an_experiment_end_to_end_in_chromium(browser, fresh_server):
    from playwright.sync_api import expect

    server = fresh_server()
    for file in server.experiments_dir.glob("*.toml"):
        file.unlink()  # Only the tiny experiment: the page opens on it.
    experiment_file(server.experiments_dir, "tiny", TINY_EXPERIMENT)
    page = new_page(browser, f"{server.url}/experiments", viewport={"width": 1024, "height": 768})
    expect(page.get_by_text("Will a tiny VGG16 learn")).to_be_visible(timeout=90_000)
    start = page.get_by_role("button", name="Start the experiment")
    expect(start).to_be_disabled()
    page.get_by_text("Yes, above 50% on validation images.").click()
    expect(start).to_be_enabled()
    start.click()
    expect(page.get_by_text("You predicted")).to_be_visible(timeout=240_000)
    expect(page.get_by_text(re.compile(r"Yes, above 50% on validation images\. Right!"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"validation accuracy \d+%"))).to_be_visible()
    screenshot(page, "experiments")
    [run] = list_runs(server.runs_dir)
    assert run.status().prediction == "learns"
