"""The Mistakes page in headless Chromium with the shipped model on the real validation images: the matrix,
the cat-called-dog cell's images, and one of them inspected with both Grad-CAMs."""

import re

import pytest

from browser_helpers import app_server, new_page, screenshot, screenshot_path, wait_until_idle
from helpers import SHARED_CIFAR10

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")
CAT, DOG = 3, 5


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """A server of its own: over the real CIFAR-10, with no runs, so the Mistakes page shows the shipped model."""
    with app_server(tmp_path_factory.mktemp("mistakes-server"), SHARED_CIFAR10) as running:
        yield running


def click_cell(page, true_index, called_index):
    """Clicks the matrix cell of `true_index` called `called_index`, found through Plotly's own axes."""
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    point = chart.evaluate(
        """(plot, cell) => {
        const x = plot._fullLayout.xaxis, y = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
        return [box.left + x._offset + x.l2p(cell[1]), box.top + y._offset + y.l2p(cell[0])];
    }""",
        [true_index, called_index],
    )
    page.mouse.click(*point)


def test_from_the_matrix_to_a_cat_called_dog_and_where_it_looked(browser, real_server):
    page = new_page(browser, f"{real_server.url}/mistakes", viewport={"width": 1024, "height": 768})
    expect(page.get_by_role("heading", name="Mistakes")).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"of 5,000 validation images right"))).to_be_visible(timeout=180_000)
    # That line is the card's; the first visit then scores the shipped model on 5,000 images (about 13 s on 2 idle
    # cores, minutes on a loaded machine) and saves it, before the matrix shows.
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=240_000)
    wait_until_idle(page)
    screenshot(page, "mistakes-matrix")
    # The page opens on the most frequent mistake: choose another cell first, so the click is what shows cat/dog.
    click_cell(page, DOG, CAT)
    expect(page.get_by_text(re.compile(r"\d+ dog images the model calls cat"))).to_be_visible(timeout=60_000)
    # The click redraws the matrix (a new chart, so the next click counts too): wait for it before clicking again.
    wait_until_idle(page)
    page.wait_for_timeout(1500)
    click_cell(page, CAT, DOG)
    heading = page.get_by_text(re.compile(r"(\d+) cat images the model calls dog"))
    expect(heading).to_be_visible(timeout=60_000)
    count = int(re.search(r"(\d+) cat images", heading.inner_text()).group(1))
    assert count > 0
    wait_until_idle(page)
    page.get_by_role("button", name="Inspect").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"A cat called dog"))).to_be_visible(timeout=60_000)
    expect(dialog.get_by_text(re.compile(r"Grad-CAM for the true class: 'cat'"))).to_be_visible(timeout=60_000)
    expect(dialog.get_by_text(re.compile(r"Grad-CAM for its answer: 'dog'"))).to_be_visible()
    expect(dialog.get_by_role("link", name=re.compile("feature maps on Inside VGG16"))).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.wait_for_timeout(1000)
    page.screenshot(path=screenshot_path("mistakes-inspect"))
    page.context.close()
