"""One shipped guided experiment end to end in Chromium on the real images: a prediction, Start, the live run,
and the outcome beside the prediction. Prints the seconds from Start to the outcome and what happened; saves
docs/screenshots/experiments-live.png and experiments-<id>.png.

    python benchmarks/experiment_run.py --experiment no-batch-norm --choice stuck --runs-dir /tmp/experiment-runs
"""

import argparse
import os
import pathlib
import sys
import time

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
from benchmarks.browser import docs_screenshot, launch_chromium, streamlit_server, wait_until_idle  # noqa: E402
from vgg.classroom.experiments import load_experiment  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="no-batch-norm")
    parser.add_argument("--choice", default="stuck", help="The id of the prediction to choose.")
    parser.add_argument("--runs-dir", required=True, help="A runs folder of its own (the run is left there).")
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT.parent / "shared" / "cifar10"))
    arguments = parser.parse_args()
    experiment = load_experiment(PROJECT_ROOT / "experiments" / f"{arguments.experiment}.toml")
    environment = dict(
        os.environ, VGG_RUNS_DIR=arguments.runs_dir, VGG_DATA_DIR=arguments.data_dir, PYTHONPATH=str(PROJECT_ROOT)
    )
    from playwright.sync_api import sync_playwright

    with streamlit_server(environment) as (_, url), sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
        page.goto(f"{url}/experiments")
        page.get_by_role("button", name="Start the experiment").wait_for(timeout=90_000)
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=experiment.title).click()
        page.get_by_text(experiment.question).wait_for(timeout=30_000)
        wait_until_idle(page)
        page.get_by_text(experiment.choice(arguments.choice).text).click()
        wait_until_idle(page)
        start = time.perf_counter()
        page.get_by_role("button", name="Start the experiment").click()
        page.get_by_text("Epoch", exact=False).first.wait_for(timeout=120_000)
        page.wait_for_timeout(20_000)  # Some of the run on the live chart.
        docs_screenshot(page, "experiments-live")
        page.get_by_text("You predicted").wait_for(timeout=1_800_000)
        seconds = time.perf_counter() - start
        wait_until_idle(page)
        print(f"{experiment.id}: {seconds:.0f} s from Start to the outcome on the page")
        print(page.locator("[data-testid=stVerticalBlockBorderWrapper]").all_inner_texts()[-2:])
        docs_screenshot(page, f"experiments-{experiment.id}")
        browser.close()


if __name__ == "__main__":
    main()
