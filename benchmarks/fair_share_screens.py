"""Screenshots of what a student sees when the server shares itself out: a Filters tab waiting its turn behind
other first-time analyses ("n jobs ahead of yours"), and Predict refusing an upload past the browser's share.

    python benchmarks/fair_share_screens.py    # writes tests/screenshots/queued-analysis.png, upload-refused.png

The server runs over generated images and two untrained 1/8-width runs' models; a first session opens Filters on
one, so that a second session's Filters on the other waits behind its three analyses.
"""

import argparse
import io
import pathlib
import sys
import tempfile
import urllib.parse

sys.path[:0] = [str(pathlib.Path(__file__).resolve().parent.parent / "tests")]
sys.path[:0] = [str(pathlib.Path(__file__).resolve().parent.parent)]

from benchmarks.browser import launch_chromium, streamlit_server  # noqa: E402
from vgg.data.uploads import SESSION_FILES  # noqa: E402

SCREENSHOTS = pathlib.Path(__file__).resolve().parent.parent / "tests" / "screenshots"
WAITING = "ahead of yours"
REFUSED = "from each browser"
VIEWPORT = {"width": 1400, "height": 1100}


def world(folder):
    """(data folder, runs folder) with two runs' untrained tiny models."""
    from helpers import tiny_config, write_image_folder
    from vgg.model.build import build_from_config
    from vgg.runs.folder import create_run

    data_dir = write_image_folder(folder / "data", per_class=60)
    for name in ("ada", "ben"):
        config = tiny_config()
        run = create_run(folder / "runs", config, name=name, title=f"{name.title()}'s run")
        build_from_config(config).save(run.model_path)
    return data_dir, folder / "runs"


def filters_url(url, run_name):
    return f"{url}/inside?" + urllib.parse.urlencode({"model": f"Run {run_name} (final)", "tab": "Filters"})


def small_photos(count):
    from PIL import Image

    photos = []
    for number in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (number * 9 % 256, 120, 200)).save(buffer, format="PNG")
        photos.append({"name": f"photo {number + 1}.png", "mimeType": "image/png", "buffer": buffer.getvalue()})
    return photos


def queued_analysis(browser, url):
    """Filters on Ada's model, then on Ben's: the second waits behind the first's analyses."""
    first = browser.new_page(viewport=VIEWPORT)
    first.goto(filters_url(url, "ada"))
    first.get_by_text("Computing").first.wait_for(timeout=180_000)
    second = browser.new_page(viewport=VIEWPORT)
    second.goto(filters_url(url, "ben"))
    try:
        second.get_by_text(WAITING).first.wait_for(timeout=180_000)
    finally:
        second.screenshot(path=str(SCREENSHOTS / "queued-analysis.png"), full_page=True)
    print(second.get_by_text(WAITING).first.inner_text())


def upload_refused(browser, url):
    """One photo past the browser's share of uploads, on Predict."""
    predict = browser.new_page(viewport=VIEWPORT)
    predict.goto(f"{url}/predict?" + urllib.parse.urlencode({"model": "Run ada (final)"}))
    chooser = predict.locator("[data-testid='stFileUploaderDropzoneInput']").first
    chooser.wait_for(state="attached", timeout=180_000)
    chooser.set_input_files(small_photos(SESSION_FILES + 1))
    try:
        predict.get_by_text(REFUSED).first.wait_for(timeout=120_000)
    finally:
        predict.screenshot(path=str(SCREENSHOTS / "upload-refused.png"), full_page=True)
    print(predict.get_by_text(REFUSED).first.inner_text())


def main(argv=None):
    from playwright.sync_api import sync_playwright

    from helpers import subprocess_environment

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("queue", "upload"), help="Take only this screenshot.")
    only = parser.parse_args(argv).only
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        data_dir, runs_dir = world(pathlib.Path(folder))
        environment = subprocess_environment(
            VGG_DATA_DIR=data_dir, VGG_RUNS_DIR=runs_dir, VGG_CACHE_DIR=pathlib.Path(folder) / "cache"
        )
        with streamlit_server(environment) as (_, url):
            browser = launch_chromium(playwright)
            if only != "upload":
                queued_analysis(browser, url)
            if only != "queue":
                upload_refused(browser, url)
            browser.close()


if __name__ == "__main__":
    main()
