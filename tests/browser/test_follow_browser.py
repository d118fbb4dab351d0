""" "Follow me" in real browsers: the teacher leads two students through a page change and a layer change on Inside
VGG16, then releases them, and a student's own choice of page stands."""

import re
import time

from browser_helpers import close_pages, new_page, no_exception, screenshot, wait_until_idle
from helpers import PASSWORD
from vgg.classroom.follow import read_follow

# How long a student's screen may take to follow before the test calls it broken. The promise itself, 5 s, is a
# speed target: `python benchmarks/classroom.py --follow` measures it (BENCHMARKS.md), on a machine not also
# running the rest of the suite.
FOLLOW_SECONDS = 20


def shared(runs_dir, wanted, timeout_seconds=120):
    """The shared record once the teacher's browser has written one that `wanted(record)` accepts."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        record = read_follow(runs_dir)
        if wanted(record):
            return record
        time.sleep(0.1)
    raise AssertionError(f"the teacher's browser shared no such view within {timeout_seconds} s: {record}")


def follows(students, address):
    """Every student's address matches `address` within FOLLOW_SECONDS of the teacher's change being shared."""
    from playwright.sync_api import expect

    started = time.monotonic()
    deadline = started + FOLLOW_SECONDS
    for student in students:
        left = max(deadline - time.monotonic(), 0.1)
        expect(student).to_have_url(address, timeout=left * 1000)
    print(f"the students followed {address} in {time.monotonic() - started:.1f} s")


def test_two_students_follow_the_teacher_until_released(browser, class_server, tmp_path):
    from playwright.sync_api import expect

    runs_dir = class_server.runs_dir
    teacher = new_page(browser, f"{class_server.url}/board")
    students = [new_page(browser, f"{class_server.url}/data?me={name}") for name in ("Ada", "Ben")]
    pages = [teacher, *students]
    try:
        expect(teacher.get_by_role("heading", name="Run board")).to_be_visible(timeout=120_000)
        for student in students:
            expect(student.get_by_role("heading", name="CIFAR-10")).to_be_visible(timeout=120_000)
        teacher.get_by_role("textbox", name="Teacher's password").fill(PASSWORD)
        teacher.get_by_role("textbox", name="Teacher's password").press("Enter")
        expect(teacher.get_by_text("Teacher's controls on.")).to_be_visible(timeout=60_000)

        # Follow me: both students come to the teacher's Run board, with the notice and their names kept.
        teacher.get_by_text("Follow me", exact=True).click()
        shared(runs_dir, lambda record: record.on and record.view.page == "board")
        follows(students, re.compile(r"/board\?me=(Ada|Ben)~[\w-]+$"))  # Each name with its browser's secret.
        for student in students:
            expect(student.get_by_text("Following the teacher: your screen shows theirs.")).to_be_visible()

        # The teacher opens Inside VGG16, its feature maps, and moves one layer deeper: the students follow each.
        teacher.get_by_role("link", name="Inside VGG16").click()
        shared(runs_dir, lambda record: record.view.page == "inside")
        follows(students, re.compile(r"/inside\?"))
        expect(teacher.get_by_role("tab", name="Feature maps")).to_be_visible(timeout=120_000)
        wait_until_idle(teacher)
        teacher.get_by_role("tab", name="Feature maps").click()
        shared(runs_dir, lambda record: record.view.params.get("tab") == "Feature maps")
        follows(students, re.compile(r"tab=Feature"))
        layer = teacher.get_by_test_id("stSlider").filter(has_text="Layer").get_by_role("slider")
        expect(layer).to_be_visible(timeout=120_000)
        layer.focus()
        layer.press("ArrowRight")
        shared(runs_dir, lambda record: record.view.params.get("layer") == "block1_conv2")
        follows(students, re.compile(r"layer=block1_conv2"))
        for student in students:
            expect(student.get_by_text(re.compile(r"^Block 1, conv 2 \(32x32\)")).first).to_be_visible(timeout=120_000)
        screenshot(teacher, "follow-teacher-inside")
        screenshot(students[0], "follow-student-inside")

        # Released: the notice goes, and a student's own page change is not undone by the teacher's next one.
        teacher.get_by_text("Follow me", exact=True).click()
        shared(runs_dir, lambda record: not record.on, timeout_seconds=30)
        ada = students[0]
        expect(ada.get_by_text("Following the teacher: your screen shows theirs.")).to_have_count(0, timeout=10_000)
        ada.get_by_role("link", name="Run board").click()
        expect(ada.get_by_role("heading", name="Run board")).to_be_visible(timeout=60_000)
        teacher.get_by_role("link", name="Mistakes").click()
        expect(teacher.get_by_role("heading", name="Mistakes")).to_be_visible(timeout=120_000)
        ada.wait_for_timeout(3 * 2000)  # Three of the students' follow ticks.
        expect(ada).to_have_url(re.compile(r"/board(\?|$)"))
        expect(students[1]).to_have_url(re.compile(r"/inside\?"))
        for page in pages:
            no_exception(page)
    finally:
        close_pages(pages, tmp_path)
