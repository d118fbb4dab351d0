"""A class that tries to break it, in real browsers on one class-mode server: Ben types Ada's name and is refused,
inventing names buys Ben no second run, a run titled with Markdown and HTML reads as typed, and the teacher frees
Ada's name for her new browser. The machine's one training slot is held by the test, so every run waits in the
queue and nothing trains."""

import os
import re

from browser_helpers import choose_option, close_pages, new_page, no_exception, screenshot, set_number
from helpers import PASSWORD
from vgg.classroom.names import claimed_names
from vgg.core import locks
from vgg.runs.folder import list_runs
from vgg.runs.queue import slot_path
from vgg.runs.status import State

HOSTILE_TITLE = "# Over <b>x</b> [a](http://x.example)"
TAKEN = "The name 'Ada' is in use in this class: choose another or ask the teacher."


def type_name(page, name):
    box = page.get_by_role("textbox", name="Your name")
    box.fill(name)
    box.press("Enter")


def queue_run(page, title=""):
    """Names the next run `title` and presses Start: a small run, which waits behind the held slot."""
    from playwright.sync_api import expect

    if title:
        page.get_by_role("textbox", name="Name this run (optional)").fill(title)
        page.get_by_role("textbox", name="Name this run (optional)").press("Enter")
    set_number(page, "Epochs", 1)
    set_number(page, "Images (0 = all)", 400)
    button = page.get_by_role("button", name=re.compile(r"^(Start training|Queue run)$"))
    expect(button).to_be_enabled(timeout=60_000)
    button.click()


def queued(runs_dir):
    return sorted(run.status().owner for run in list_runs(runs_dir) if run.status().state == State.QUEUED)


def test_names_belong_to_their_browser(browser, class_server, tmp_path):
    from playwright.sync_api import expect

    runs_dir = class_server.runs_dir
    slot = locks.acquire(slot_path(runs_dir, 0))
    pages = []
    try:
        ada, ben, cy, teacher = [
            new_page(browser, f"{class_server.url}/train{query}") for query in ("?me=Ada", "", "?me=Cy", "")
        ]
        pages += [ada, ben, cy, teacher]
        for page in pages:
            expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=120_000)
        expect(ada.get_by_text("This name is yours in this browser")).to_be_visible(timeout=60_000)
        screenshot(ada, "class-name-claimed")
        queue_run(ada, HOSTILE_TITLE)
        expect(ada.get_by_role("button", name="Cancel").first).to_be_visible(timeout=60_000)

        # Ben types Ada's name: one sentence, and no control of her queued run.
        type_name(ben, "Ada")
        expect(ben.get_by_text(TAKEN, exact=True)).to_be_visible(timeout=60_000)
        expect(ben.get_by_text(re.compile(r"Queue · 1 waiting"))).to_be_visible(timeout=60_000)
        expect(ben.get_by_role("button", name="Cancel")).to_have_count(0)
        screenshot(ben, "class-name-refused")

        # Ben queues his one run, then invents a name in the same browser: no second run.
        type_name(ben, "Ben")
        expect(ben.get_by_text("This name is yours in this browser")).to_be_visible(timeout=60_000)
        queue_run(ben)
        expect(ben.get_by_text(re.compile(r"Queue · 2 waiting"))).to_be_visible(timeout=60_000)
        type_name(ben, "Ben2")
        expect(ben.get_by_text("This name is yours in this browser")).to_be_visible(timeout=60_000)
        queue_run(ben)
        expect(ben.get_by_text(re.compile(r"You have 1 run\(s\) queued or training"))).to_be_visible(timeout=60_000)
        assert queued(runs_dir) == ["Ada", "Ben"]

        # The teacher frees Ada's name; a new browser takes it, and keeps it across the sidebar's pages.
        teacher.get_by_role("textbox", name="Teacher's password").fill(PASSWORD)
        teacher.get_by_role("textbox", name="Teacher's password").press("Enter")
        teacher.get_by_text(re.compile(r"^Names in use \(")).click()
        choose_option(teacher, "Name to release", "Ada")
        screenshot(teacher, "class-name-release")
        teacher.get_by_role("button", name="Release").click()
        expect(teacher.get_by_text("Released 'Ada'")).to_be_visible(timeout=60_000)
        assert "Ada" not in claimed_names(runs_dir)
        adas_new = new_page(browser, f"{class_server.url}/train?me=Ada")
        pages.append(adas_new)
        expect(adas_new.get_by_text("This name is yours in this browser")).to_be_visible(timeout=120_000)
        adas_new.get_by_role("link", name="Data").click()
        adas_new.wait_for_url(re.compile(r"/data\?(.*&)?me=Ada~"), timeout=60_000)
        for page in pages:
            no_exception(page)

        # Everyone reads the hostile title as typed, in the queue's lines: no heading, bold text or link made of it.
        expect(cy.get_by_text(re.compile(r"Queue · 2 waiting"))).to_be_visible(timeout=60_000)
        expect(cy.locator("a[href*='x.example']")).to_have_count(0)
        expect(cy.locator("h1", has_text="Over")).to_have_count(0)
        expect(cy.locator("[data-testid='stMarkdownContainer'] b")).to_have_count(0)
        # The escaping keeps addresses from turning into links with an invisible word joiner (U+2060).
        shown = cy.locator("[data-testid='stMarkdownContainer']").all_inner_texts()
        assert any(HOSTILE_TITLE in text.replace("\u2060", "") for text in shown), shown
    finally:
        close_pages(pages, tmp_path)
        os.close(slot)
