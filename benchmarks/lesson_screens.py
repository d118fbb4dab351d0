"""The lesson's key pages as the class sees them: Train, Inside VGG16, Mistakes and the Run board at 1280x720 in the
normal view and at 1024x768 in the presenter view, first screen only (what shows without scrolling), over a runs
folder you give (for example one holding the blog run and its fix). Prints where each page's key picture starts.

    python benchmarks/lesson_screens.py --data-dir ../shared/cifar10 --runs-dir RUNS [--out docs/screenshots]
"""

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.browser import DOCS_SCREENSHOTS, launch_chromium, streamlit_server, wait_until_idle  # noqa: E402

# Each page with the query that opens its lesson view, the heading that says it is drawn, and its key picture (the
# element's selector and which of them): the training chart, the feature maps, the confusion matrix, the board's chart.
PAGES = {
    "train": ("", "Train VGG16", ".js-plotly-plot", 0),
    "inside": ("tab=Feature+maps", "Inside VGG16", "[data-testid='stImage']", 1),
    "mistakes": ("", "Mistakes", ".js-plotly-plot", 0),
    "board": ("", "Run board", ".js-plotly-plot", 0),
}
VIEWS = {"1280x720": (1280, 720, ""), "1024x768-presenter": (1024, 768, "present=1")}


def shoot(browser, url, page_name, view, out):
    from playwright.sync_api import expect

    width, height, view_query = VIEWS[view]
    page_query, heading, key_picture, nth = PAGES[page_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    query = "&".join(part for part in (page_query, view_query) if part)
    page.goto(f"{url}/{page_name}" + (f"?{query}" if query else ""))
    expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=180_000)
    picture = page.locator(key_picture).nth(nth)
    try:
        expect(picture).to_be_visible(timeout=180_000)
    except AssertionError:
        picture = None
    wait_until_idle(page)
    page.wait_for_timeout(1500)  # Plotly lays its text out after the script is done.
    path = out / f"lesson-{page_name}-{view}.png"
    page.screenshot(path=str(path))
    box = picture.bounding_box() if picture is not None else None
    page.close()
    return {
        "page": page_name,
        "view": view,
        "picture_top": box and round(box["y"]),
        "screen": height,
        "file": path.name,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--out", default=str(DOCS_SCREENSHOTS))
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    environment = os.environ | {"VGG_DATA_DIR": args.data_dir, "VGG_RUNS_DIR": args.runs_dir}
    from playwright.sync_api import sync_playwright

    with streamlit_server(environment) as (_, url), sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for page_name in args.pages:
            for view in VIEWS:
                print(json.dumps(shoot(browser, url, page_name, view, out)), flush=True)
        browser.close()


if __name__ == "__main__":
    main()
