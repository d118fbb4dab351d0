"""The shipped replays: the records of a real blog-short run and of the doctor's fix one change at a time, shown on
a fresh install before anyone trains, with the training doctor's verdict read from them, and replayed as they
happened."""

import pytest

from vgg.classroom.doctor import Verdict, diagnose
from vgg.classroom.replays import REPLAYS_DIR, at, duration, replays
from vgg.runs.diagnostics import read_diagnostics

pytestmark = pytest.mark.skipif(not (REPLAYS_DIR / "blog-short").exists(), reason="assets/replays is missing")


def test_the_shipped_replays_are_the_blog_run_and_its_fix_one_change_at_a_time_small_and_without_weights():
    blog, batch_norm_only, fixed = replays()
    assert blog.name == "blog-short" and not blog.config().batch_norm
    assert diagnose(blog).verdict == Verdict.STUCK
    assert diagnose(blog).fixed_config(blog.config()) == fixed.config(), "the last replay is the doctor's fix"
    assert batch_norm_only.config() == blog.config().replace(batch_norm=True)
    final_accuracy = {run.name: run.metrics().epochs[-1].val_accuracy for run in (blog, batch_norm_only, fixed)}
    assert final_accuracy["blog-short-batch-norm"] < 0.15, "batch norm alone stays at chance: the chain's point"
    assert final_accuracy["blog-short-fixed"] > final_accuracy["blog-short"] + 0.1
    dense = [unit for unit in read_diagnostics(batch_norm_only).latest.units if unit.name == "fc1"]
    assert dense and dense[0].dead_fraction > 0.9, "batch norm alone leaves the Dense layer dead"
    files = [path for path in REPLAYS_DIR.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 1_000_000
    assert not [path for path in files if path.suffix in (".keras", ".npz", ".h5")]
    assert "python -m vgg train --preset blog-short" in (REPLAYS_DIR / "blog-short" / "COMMAND").read_text()


def test_a_moment_of_a_replay_holds_only_what_was_recorded_by_then():
    blog = replays()[0]
    half = duration(blog) / 2
    moment = at(blog, half)
    assert moment.metrics.batches and all(row.elapsed <= half for row in moment.metrics.rows())
    assert len(moment.metrics.batches) < len(blog.metrics().batches) and not moment.finished
    assert at(blog, duration(blog)).finished
