"""Links in Chromium: a copied link opens the same view in another browser, and a view-only link shows students the
view without its controls."""

import re

from browser_helpers import new_page, screenshot, wait_until_idle

TINY = "Run tiny (final)"


def test_a_copied_link_opens_the_same_view_in_another_browser(browser, server):
    """The teacher changes a control, hides the model chooser and copies the link; a student's browser (a context
    of its own, so another session) opens it on the same model and cell, without the model chooser."""
    import urllib.parse

    from playwright.sync_api import expect

    teacher = new_page(browser, f"{server.url}/mistakes?" + urllib.parse.urlencode({"model": TINY, "cell": "cat,dog"}))
    expect(teacher.get_by_text("Accuracy")).to_be_visible(timeout=120_000)
    wait_until_idle(teacher)
    teacher.get_by_test_id("stSelectbox").filter(has_text="Called").click()
    teacher.get_by_role("option", name="bird", exact=True).click()
    wait_until_idle(teacher)
    expect(teacher).to_have_url(re.compile(r"cell=cat(,|%2C)bird"))
    # Streamlit 1.67 pushes a history entry for each new address: Back returns to the view before.
    teacher.go_back()
    expect(teacher.get_by_role("combobox", name="Called")).to_have_value("dog", timeout=30_000)
    teacher.go_forward()
    expect(teacher.get_by_role("combobox", name="Called")).to_have_value("bird", timeout=30_000)
    wait_until_idle(teacher)
    teacher.get_by_role("button", name="Copy link for students").click()
    popover = teacher.get_by_test_id("stPopoverBody")
    option = teacher.get_by_role("option", name="Model", exact=True)
    # A rerun that lands as the list opens can close it again: open it until it shows, as a person would.
    for _ in range(3):
        wait_until_idle(teacher)
        popover.get_by_test_id("stMultiSelect").click()
        try:
            expect(option).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    option.click()
    popover.get_by_text("Whoever opens this link").click()  # Closes the list of options, so the link shows.
    wait_until_idle(teacher)
    link = popover.get_by_test_id("stCode").inner_text().strip()
    assert link == f"{server.url}/mistakes?model=Run+tiny+%28final%29&cell=cat,bird&hide=model", link
    screenshot(teacher, "links")
    teacher.context.close()

    student = new_page(browser, link)
    expect(student.get_by_text("Model: tiny (final)")).to_be_visible(timeout=120_000)
    wait_until_idle(student)
    expect(student.get_by_role("combobox", name="True class")).to_have_value("cat")
    expect(student.get_by_role("combobox", name="Called")).to_have_value("bird")
    expect(student.get_by_role("combobox", name="Model", exact=True)).to_have_count(0)
    expect(student).to_have_url(re.compile(r"hide=model"))
    screenshot(student, "links-student")
    student.context.close()


def test_a_view_only_link_shows_students_the_view_without_its_controls_in_chromium(browser, server):
    """The teacher's view of a cat's block 2 maps, opened from a View only link in a student's browser: the same
    model, image and layer, written out, with no chooser to change them."""
    from playwright.sync_api import expect

    student = new_page(
        browser,
        f"{server.url}/inside?model=Run+tiny+%28final%29&class=cat&index=2"
        "&tab=Feature+maps&layer=block2_conv1&hide=all",
    )
    expect(student.get_by_text("validation image cat #2").first).to_be_visible(timeout=120_000)
    wait_until_idle(student)
    expect(student.get_by_text(re.compile(r"^Block 2, conv 1 \(16x16\): "))).to_be_visible()
    expect(student.get_by_role("combobox")).to_have_count(0)
    expect(student.get_by_role("slider")).to_have_count(0)
    screenshot(student, "links-view-only")
    student.context.close()
