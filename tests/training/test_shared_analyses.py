"""Heavy first-time work shared fairly (review F3): four analyses asked for at once in one server process run one
after another, each waiting page told how many jobs are ahead of it, while the live view of a training run keeps
redrawing; the Mistakes page offers no analysis of a checkpoint still training. The redraw times are
benchmarks/queued_analyses.py's to print."""

import os

from benchmarks.queued_analyses import World, redraws, start_all, watched_run
from helpers import page_test
from vgg.runs.folder import create_run
from vgg.runs.status import State


def test_four_first_time_analyses_take_turns_while_the_live_view_redraws(tmp_path, monkeypatch):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "runs"))
    world = World.make(tmp_path)
    run, descriptor = watched_run(world.runs_dir, world.config)
    try:
        analyses = world.analyses()
        threads = start_all(analyses)
        seconds, drawn = redraws(run.name, lambda: any(thread.is_alive() for thread in threads))
        for thread in threads:
            thread.join()
    finally:
        os.close(descriptor)
    turns = sorted((turn for turn, _ in analyses.values()), key=lambda turn: turn.started)
    for earlier, later in zip(turns, turns[1:], strict=False):
        assert earlier.last_report <= later.started, "two analyses computed at the same time"
    # Each waiting page was told its place: the last in line saw three jobs ahead of it.
    assert sorted(turn.most_ahead for turn in turns) == [0, 1, 2, 3]
    # The live view kept redrawing the run while they queued, never held up for the whole queue.
    assert "**Watched run** is **running**" in drawn
    assert len(seconds) >= 4
    assert max(seconds) < turns[-1].last_report - turns[0].started


def test_mistakes_waits_for_a_run_still_training(tmp_path, monkeypatch):
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_DATA_DIR", str(tmp_path / "data"))
    world = World.make(tmp_path)
    run = create_run(world.runs_dir, world.config, name="learning", title="Learning")
    world.model.save(run.checkpoint_path)
    run.update_status(state=State.QUEUED)  # A resumed run waiting for its slot: its checkpoint will change.
    app = page_test("mistakes_page")
    app.query_params["model"] = "Run learning (last checkpoint)"  # As a link opens it: no other model loads.
    app.run()
    assert app.selectbox(key="mistakes_model").value == "Run learning (last checkpoint)"
    assert not app.exception, app.exception
    assert "This run is still training: its mistakes come when it finishes" in " ".join(info.value for info in app.info)
    assert not app.get("plotly_chart")
    assert not list(run.path.glob("*.npz"))
