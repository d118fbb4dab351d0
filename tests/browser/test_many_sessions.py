"""Many sessions on one real server, in headless Chromium, while real runs train: each session keeps its
own choices and uploads, an idle Train page follows a run started elsewhere, and two sessions pressing
Start together start one run.
"""

import os
import re
import time

from browser_helpers import close_pages, new_page, no_exception_or_error, wait_for_no_active_run
from helpers import generated_images, png_bytes, stop_and_wait, tiny_config
from vgg.classroom.launch import launch, stop_active_runs, training_runs, wait_for
from vgg.data.cifar10 import CLASS_NAMES
from vgg.runs.folder import list_runs


def class_pills(page):
    return page.get_by_role("toolbar", name="Classes").get_by_role("button")


def choose_only_class(page, name):
    """Deselects every class pill but `name`'s, one click at a time, as a student would."""
    from playwright.sync_api import expect

    expect(class_pills(page)).to_have_count(len(CLASS_NAMES), timeout=120_000)
    for other in CLASS_NAMES:
        if other != name:
            pill = class_pills(page).filter(has_text=re.compile(f"^{other}$"))
            expect(pill).to_have_attribute("aria-pressed", "true", timeout=60_000)
            pill.click()
            expect(pill).to_have_attribute("aria-pressed", "false", timeout=60_000)


def expect_only_class(page, name):
    from playwright.sync_api import expect

    pressed = page.get_by_role("toolbar", name="Classes").locator("button[aria-pressed=true]")
    expect(pressed).to_have_text([name], timeout=60_000)
    # The close-up shows an image of the one class in the grid.
    expect(page.get_by_role("heading", name=re.compile(f"^Up close: {name} "))).to_be_visible(timeout=60_000)


def test_five_sessions_at_once_while_a_run_trains(browser, server, image_folder, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    images, labels = generated_images(per_class=1, seed=9)
    uploads = {}
    for name, label in (("my-ship.png", 8), ("my-frog.png", 6)):
        uploads[name] = tmp_path / name
        uploads[name].write_bytes(png_bytes(images[list(labels).index(label)].repeat(8, axis=0).repeat(8, axis=1)))

    run, process = launch(
        server.runs_dir, "bg", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder, title="bg"
    )
    # The machine's two cores are shared with another long training: a nicer run keeps pages answering.
    os.setpriority(os.PRIO_PROCESS, process.pid, 10)
    pages = []
    try:
        predict_ship, predict_frog, data_cat, data_ship, train = pages = [
            new_page(browser, server.url + path) for path in ("/predict", "/predict", "/", "/", "/train")
        ]
        # Each session acts without waiting for the others: the server serves them all at once.
        for page, name in ((predict_ship, "my-ship.png"), (predict_frog, "my-frog.png")):
            expect(page.locator("input[type=file]")).to_have_count(1, timeout=120_000)
            page.locator("input[type=file]").set_input_files([str(uploads[name])])
        choose_only_class(data_cat, "cat")
        choose_only_class(data_ship, "ship")

        expect(train.get_by_text(re.compile(r"\bbg is running ·"))).to_be_visible(timeout=120_000)
        expect(train.get_by_text(re.compile(r"bg is training; a new run waits in the queue"))).to_be_visible()
        # Under this load the settings above the run take a while to draw; the button must say it queues.
        expect(train.get_by_role("button", name="Queue run")).to_be_visible(timeout=90_000)
        expect_only_class(data_cat, "cat")
        expect_only_class(data_ship, "ship")
        for page, mine, theirs in (
            (predict_ship, "my-ship.png", "my-frog.png"),
            (predict_frog, "my-frog.png", "my-ship.png"),
        ):
            expect(page.get_by_text(re.compile(rf"{re.escape(mine)}: \w+"))).to_be_visible(timeout=180_000)
            expect(page.get_by_text(theirs)).to_have_count(0)
        # Once every session has settled, each still shows only its own choice.
        train.wait_for_timeout(2000)
        expect_only_class(data_cat, "cat")
        expect_only_class(data_ship, "ship")
        expect(data_cat.get_by_text("my-ship.png")).to_have_count(0)
        expect(predict_ship.get_by_text(re.compile(r"my-ship\.png: \w+"))).to_have_count(1)
        expect(train.get_by_text(re.compile(r"\bbg is running ·"))).to_be_visible()
        for page in pages:
            no_exception_or_error(page)
        # The run trains on, below the pages' priority: its first logged step may come after the pages settle.
        deadline = time.monotonic() + 180
        while not run.metrics().rows() and time.monotonic() < deadline:
            time.sleep(1)
        assert run.status().state == "running" and len(run.metrics().rows()) > 0
    finally:
        close_pages(pages, tmp_path)
        stop_and_wait(run, process)


def test_an_idle_train_page_follows_a_run_started_elsewhere(browser, server, image_folder, monkeypatch):
    from playwright.sync_api import expect

    assert wait_for_no_active_run(server.runs_dir, 120)
    page = new_page(browser, server.url + "/train")
    run = process = None
    try:
        start = page.get_by_role("button", name="Start training")
        expect(start).to_be_enabled(timeout=120_000)
        # Started as `python -m vgg train` would be from a terminal: this page is not told.
        run, process = launch(
            server.runs_dir,
            "from-terminal",
            config=tiny_config(epochs=200, batch_size=8),
            data_dir=image_folder,
            title="from-terminal",
        )
        os.setpriority(os.PRIO_PROCESS, process.pid, 10)
        shown = page.get_by_text(re.compile(r"\bfrom-terminal is (queued|starting|running) ·"))
        expect(shown).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Queue run")).to_be_visible(timeout=60_000)
        # From then on the run's own view redraws itself: it follows the run from queued to training.
        assert wait_for(run, ("running",), 120).state == "running"
        expect(page.get_by_text(re.compile(r"\bfrom-terminal is running ·"))).to_be_visible(timeout=60_000)
        stop_and_wait(run, process)
        expect(page.get_by_text(re.compile(r"\bfrom-terminal is stopped ·"))).to_be_visible(timeout=60_000)
        expect(start).to_be_visible(timeout=60_000)
        no_exception_or_error(page)
    finally:
        page.context.close()
        if run is not None:
            stop_and_wait(run, process)


def test_two_sessions_pressing_start_together_train_one_run_and_queue_the_other(browser, server, tmp_path):
    from playwright.sync_api import expect

    runs_dir = server.runs_dir
    assert wait_for_no_active_run(runs_dir, 120)
    before = {path.name for path in runs_dir.iterdir() if path.is_dir()}
    pages = []
    try:
        pages = [new_page(browser, server.url + "/train") for _ in range(2)]
        buttons = [page.get_by_role("button", name="Start training") for page in pages]
        for page, button in zip(pages, buttons, strict=True):
            expect(button).to_be_enabled(timeout=120_000)
            # A long run, so that the winner is still training when the test looks (an idle
            # machine finishes the preset's 5 epochs on the test images in seconds).
            epochs = page.get_by_label("Epochs", exact=True)
            epochs.fill("500")
            epochs.press("Enter")
            page.wait_for_timeout(1500)
            button.scroll_into_view_if_needed()
        # The fill's rerun can take long on a loaded CPU; the buttons come back when it ends.
        for button in buttons:
            expect(button).to_be_visible(timeout=120_000)
        boxes = [button.bounding_box(timeout=120_000) for button in buttons]
        # Two plain mouse clicks, milliseconds apart: neither waits for the server's answer to the other.
        for page, box in zip(pages, boxes, strict=True):
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

        most_training, states = 0, {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = {run.name: run.status().state for run in list_runs(runs_dir) if run.name not in before}
            most_training = max(most_training, len(training_runs(runs_dir)))
            if sorted(states.values()) == ["queued", "running"]:
                break
            time.sleep(0.3)
        print(f"created {states}, most training at once {most_training}")
        assert sorted(states.values()) == ["queued", "running"], states
        assert most_training == 1, "two runs were training at once on one slot"
        for page in pages:
            # Both pages follow: the queue appears on the one watching the run that trains too.
            expect(page.get_by_text(re.compile(r"Queue · 1 waiting"))).to_be_visible(timeout=60_000)
            expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        close_pages(pages, tmp_path)
        stop_active_runs(runs_dir)
