"""The preparation of a finished model's analyses (vgg/explain/ready.py): one failing step leaves the others, a
stop or the budget leaves the rest to the pages, and the shipped models are prepared once per install."""

import os
import time

from vgg.explain import ready


def step(what, result=("value", None), seconds=0.0, reports=1):
    def compute(progress):
        for done in range(1, reports + 1):
            time.sleep(seconds / reports)
            progress(done, reports)
        if isinstance(result, Exception):
            raise result
        return result

    return ready.Step(what, compute)


def test_a_failing_step_is_one_sentence_and_the_next_steps_go_on():
    heard = []
    outcome = ready.prepare(
        [step("one"), step("two", ValueError("The model answers 3 classes.")), step("three", ("value", "Not saved."))],
        on_step=lambda done, total, what: heard.append((done, total, what)),
    )
    assert [what for what, _ in outcome.done] == ["one", "three"]
    assert outcome.problems == ["Could not compute two (ValueError: The model answers 3 classes.).", "Not saved."]
    assert outcome.left == 0
    assert heard == [(0, 3, "one"), (1, 3, "two"), (2, 3, "three"), (3, 3, None)]


def test_a_stop_during_a_step_leaves_it_and_the_rest_to_the_pages():
    stop = []
    outcome = ready.prepare(
        [step("one"), step("two", reports=3), step("three")],
        on_step=lambda done, total, what: stop.append(True) if what == "two" else None,
        stopped=lambda: bool(stop),
    )
    assert [what for what, _ in outcome.done] == ["one"] and outcome.left == 2


def test_steps_past_the_budget_are_left_to_the_pages():
    outcome = ready.prepare([step("slow", seconds=0.2), step("next")], budget_seconds=0.1)
    assert [what for what, _ in outcome.done] == ["slow"] and outcome.left == 1


def test_the_shipped_models_are_prepared_once_per_install(tmp_path, monkeypatch):
    monkeypatch.setenv("VGG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(ready.SHIPPED_VARIABLE, raising=False)
    model = tmp_path / "model.keras"
    model.write_bytes(b"weights")
    assert not ready.shipped_ready([model], "data")
    ready.mark_shipped_ready([model], "data")
    assert ready.shipped_ready([model], "data")
    assert not ready.shipped_ready([model], "other data")
    model.write_bytes(b"other weights")  # A new shipped model is prepared again.
    assert not ready.shipped_ready([model], "data")
    # A second process finds the preparation's lock held and leaves it to the first.
    first = ready.holding_shipped_lock()
    try:
        assert first is not None and ready.holding_shipped_lock() is None
    finally:
        os.close(first)


def test_a_server_starts_no_preparation_when_the_shipped_models_are_ready_or_it_is_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("VGG_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "model.keras"
    model.write_bytes(b"weights")
    assert ready.ensure_shipped_preparation([model], "data") is None  # The tests' servers: VGG_PREPARE_SHIPPED=0.
    monkeypatch.delenv(ready.SHIPPED_VARIABLE)
    monkeypatch.setenv("VGG_CACHE_DIR", str(tmp_path / "other cache"))
    ready.mark_shipped_ready([model], "data")
    assert ready.ensure_shipped_preparation([model], "data") is None
