import re, time
import test_browser as tb
from test_browser import expect, app_url, browser_context_args  # noqa

OBSERVER = """() => { window.__ghosts = []; const seen = () => {
  const labels = Array.from(document.querySelectorAll('label')).filter(l => l.textContent.includes('Overlay other runs')).length;
  const plots = document.querySelectorAll('.js-plotly-plot').length;
  const state = document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state');
  const last = window.__ghosts[window.__ghosts.length - 1];
  const heading = Array.from(document.querySelectorAll('h3')).find(h => h.textContent.includes('All runs'));
  const top = heading ? heading.getBoundingClientRect().top | 0 : -1;
  const plotTops = Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => (p.getBoundingClientRect().top|0) + ':' + (p.getBoundingClientRect().height|0)).join(',');
  const now = labels + '/' + plots + '/' + state + ' allruns@' + top + ' plots@' + plotTops;
  if (!last || last[1] !== now) window.__ghosts.push([performance.now() | 0, now]); };
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, attributes: true}); }"""

def test_diag(page, app_url):
    tb.open_page(page, f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=90_000)
    tb.set_number(page, "Epochs", 6)
    tb.start_training(page)
    page.evaluate(OBSERVER)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if page.get_by_text(re.compile(r"is finished ·")).count():
            break
        page.wait_for_timeout(300)
    page.wait_for_timeout(5000)
    log = page.evaluate("window.__ghosts")
    for entry in log[-40:]:
        print(entry)


def test_frames(page, app_url):
    tb.open_page(page, f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=90_000)
    tb.set_number(page, "Epochs", 20)
    tb.start_training(page)
    expect(page.get_by_text(re.compile(r"is running ·"))).to_be_visible(timeout=90_000)
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data && p.data[0].x.length > 3; }", timeout=120_000)
    page.mouse.wheel(0, 700)
    page.wait_for_timeout(500)
    for index in range(30):
        page.screenshot(path=f"/tmp/frame{index:02d}.png")
        page.wait_for_timeout(60)


def test_zoom(page, app_url):
    tb.open_page(page, f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=90_000)
    tb.set_number(page, "Epochs", 20)
    tb.start_training(page)
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data && p.data[0].x.length > 3; }", timeout=120_000)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = page.locator(".js-plotly-plot").first.bounding_box()
    # Drag a zoom box over the left half of the loss chart.
    page.mouse.move(box["x"] + 60, box["y"] + 80)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 250, steps=8)
    page.mouse.up()
    print("just after", page.evaluate("() => { const p = document.querySelector('.js-plotly-plot'); return [p._fullLayout.xaxis.range, p._fullLayout.xaxis.autorange, document.querySelectorAll('.js-plotly-plot').length]; }"), box)
    for i in range(8):
        ranges = page.evaluate("() => { const p = document.querySelector('.js-plotly-plot'); return [p._fullLayout.xaxis.range, p.data[0].x.length, p._fullLayout.xaxis.autorange]; }")
        print(i, ranges, flush=True)
        page.wait_for_timeout(700)
