"""The training chart of a long run, drawn from every point and from the downsampled series, side by side.

    python benchmarks/chart_downsampling.py [--points 13680] [--out docs/screenshots]

Writes chart-all-points.png and chart-downsampled.png (headless Chromium renders each figure as the app's
Plotly does) and prints one JSON object: the points sent per version, the size of each figure's JSON, the
time to build and serialize each, and the share of pixels that differ between the two pictures.
"""

import argparse
import json
import math
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import app_pages.charts as charts  # noqa: E402
from benchmarks.browser import DOCS_SCREENSHOTS, launch_chromium  # noqa: E402
from vgg.runs.metrics import BatchRow, EpochRow, Metrics  # noqa: E402


def long_run(points, epochs=40, seed=0):
    """A run's metrics with `points` noisy logged intervals over `epochs` epochs, shaped like a real cpu run."""
    rng = np.random.default_rng(seed)
    progress = np.arange(1, points + 1) / points * epochs
    loss = 0.4 + 1.9 * np.exp(-progress / 4) + rng.normal(0, 0.08, points)
    accuracy = 1 - loss / 2.6 + rng.normal(0, 0.02, points)
    batches = tuple(
        BatchRow(
            step=index + 1,
            epoch=float(epoch),
            loss=float(value),
            accuracy=float(correct),
            learning_rate=0.1,
            images_per_second=700.0,
            elapsed=float(index),
        )
        for index, (epoch, value, correct) in enumerate(zip(progress, loss, accuracy, strict=True))
    )
    rows = tuple(
        EpochRow(
            step=0,
            epoch=epoch,
            loss=1.0,
            accuracy=0.5,
            val_loss=0.5 + 1.5 * math.exp(-epoch / 4),
            val_accuracy=0.9 - 0.7 * math.exp(-epoch / 4),
            learning_rate=0.1,
            images_per_second=700.0,
            elapsed=0.0,
        )
        for epoch in range(1, epochs + 1)
    )
    return Metrics(batches, rows)


def figure_json(metrics, limit):
    charts.MAX_POINTS = limit
    start = time.perf_counter()
    figure = charts.training_figure([charts.Series("long", "cpu (batch norm, 45k images)", metrics, 45_000)])
    text = figure.to_json()
    return text, time.perf_counter() - start, sum(len(trace.x) for trace in figure.data)


def render(pages, text, path):
    html = path.with_suffix(".html")
    html.write_text(
        f"<html><body style='margin:0'><div id='chart' style='width:1100px'></div>"
        f"<script src='{pages['plotly']}'></script><script>const f = {text};"
        "Plotly.newPlot('chart', f.data, f.layout, {staticPlot: true});</script></body></html>"
    )
    page = pages["browser"].new_page(viewport={"width": 1100, "height": 420})
    page.goto(html.as_uri())
    page.wait_for_function("() => document.querySelector('.main-svg') !== null")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=13_680)
    parser.add_argument("--out", default=str(DOCS_SCREENSHOTS))
    args = parser.parse_args(argv)
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from plotly.offline import get_plotlyjs

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = long_run(args.points)
    versions = {"all-points": figure_json(metrics, 10**9), "downsampled": figure_json(metrics, 1000)}
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        script = pathlib.Path(folder, "plotly.js")
        script.write_text(get_plotlyjs())
        pages = {"browser": launch_chromium(playwright), "plotly": script.as_uri()}
        for name, (text, _, _) in versions.items():
            render(pages, text, out / f"chart-{name}.png")
        pages["browser"].close()
    pictures = [np.asarray(Image.open(out / f"chart-{name}.png").convert("L"), dtype=np.int16) for name in versions]
    differing = float((np.abs(pictures[0] - pictures[1]) > 40).mean())
    sizes = {
        name: {"points": points, "json_bytes": len(text), "build_and_serialize_ms": round(1000 * seconds)}
        for name, (text, seconds, points) in versions.items()
    }
    print(json.dumps(sizes | {"pixels_differing": round(differing, 4)}))


if __name__ == "__main__":
    main()
