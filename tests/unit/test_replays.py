"""The shipped replays: the records of a real blog-short run and of its fix, shown on a fresh install before
anyone trains, with the training doctor's verdict read from them, and replayed as they happened."""

import pytest

from vgg.classroom.doctor import Verdict, diagnose
from vgg.classroom.replays import REPLAYS_DIR, at, duration, replays

pytestmark = pytest.mark.skipif(not (REPLAYS_DIR / "blog-short").exists(), reason="assets/replays is missing")


def test_the_shipped_replays_are_the_blog_run_and_its_fix_small_and_without_weights():
    blog, fixed = replays()
    assert blog.name == "blog-short" and not blog.config().batch_norm
    assert fixed.config().batch_norm and fixed.config().replace(batch_norm=False, learning_rate=1e-3) == blog.config()
    assert diagnose(blog).verdict == Verdict.STUCK
    assert fixed.metrics().epochs[-1].val_accuracy > blog.metrics().epochs[-1].val_accuracy + 0.1
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
