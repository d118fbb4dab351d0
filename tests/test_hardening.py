"""Hardening: many users at once, two Start presses at once, a full disk, untrusted files, a corrupt
checkpoint, files cut short by a crash. Real parts only: a real server and Chromium, real training
processes, a real (tiny) filesystem that runs out of space, real Keras files.
"""

import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import types

import pytest

from conftest import PROJECT_ROOT, generated_images, png_bytes, running_app, subprocess_environment, tiny_config
from vgg.data import CLASS_NAMES
from vgg.inference import ModelError, load_model
from vgg.runs import (
    ACTIVE_STATES, RunError, active_run, create_run, launch, list_runs, open_run, read_json, run_path, wait_for,
    write_json_atomically,
)

NOT_ACTIVE = ("created", "finished", "stopped", "failed", "interrupted", "unknown")


def assert_one_sentence(message):
    """What a user reads: one line of words, no traceback, no bare errno."""
    assert message and message.strip() == message, repr(message)
    assert "\n" not in message and "Traceback" not in message and "[Errno" not in message, repr(message)


def quiet(message):
    pass


# ---------------------------------------------------------------------------------------------
# 4. Untrusted files and run names
# ---------------------------------------------------------------------------------------------


def lambda_model(path, marker):
    """Saves, as someone else would, a model whose Lambda layer touches `marker` when it runs."""
    import keras

    # Built from source text, so the saved bytecode carries the marker's path itself.
    function = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(keras.layers.Lambda(function)(inputs)))
    keras.Model(inputs, outputs).save(path)
    marker.unlink()  # Building the model ran the lambda once; only a load may create it again.


def config_naming_os_system(good_model, path, marker):
    """A copy of a real .keras file whose config asks for os.system as an activation."""
    import zipfile

    with zipfile.ZipFile(good_model) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])

    def patch(node):
        if isinstance(node, dict):
            if node.get("class_name") == "Dense":
                node["config"]["activation"] = {
                    "module": "os", "class_name": "system", "config": f"touch {marker}", "registered_name": "system"
                }
            for value in node.values():
                patch(value)
        elif isinstance(node, list):
            for value in node:
                patch(value)

    patch(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def test_load_model_refuses_untrusted_files_with_one_sentence(trained_runs_dir, tmp_path):
    good = trained_runs_dir / "tiny" / "model.keras"
    runs_dir = tmp_path / "runs"
    inside = runs_dir / "someone"
    inside.mkdir(parents=True)
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    marker = tmp_path / "code-ran"

    shutil.copy(good, inside / "model.keras")
    shutil.copy(good, inside / "model.h5")
    shutil.copy(good, elsewhere / "model.keras")
    (inside / "linked.keras").symlink_to(elsewhere / "model.keras")
    (runs_dir / "linked-run").symlink_to(elsewhere, target_is_directory=True)
    (inside / "random.keras").write_bytes(random.Random(0).randbytes(200_000))
    (inside / "empty.keras").write_bytes(b"")
    (inside / "half.keras").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (inside / "folder.keras").mkdir()
    with open(inside / "huge.keras", "wb") as file:
        file.truncate(601 * 2**20)  # Sparse: its size is refused before a byte is read.
    lambda_model(inside / "lambda.keras", marker)
    config_naming_os_system(good, inside / "os-system.keras", marker)

    # The project's own model still loads: the guard refuses files, not everything.
    assert load_model(inside / "model.keras", runs_dir).count_params() > 0

    cases = {
        inside / "model.h5": "Only .keras model files",
        elsewhere / "model.keras": "outside the runs folder",
        runs_dir / ".." / "downloads" / "model.keras": "outside the runs folder",
        inside / "linked.keras": "outside the runs folder",
        runs_dir / "linked-run" / "model.keras": "outside the runs folder",
        pathlib.Path("/etc/passwd.keras"): "outside the runs folder",
        inside / "random.keras": "not a readable Keras model",
        inside / "empty.keras": "not a readable Keras model",
        inside / "half.keras": "not a readable Keras model",
        inside / "folder.keras": "There is no model file",
        inside / "missing.keras": "There is no model file",
        inside / "huge.keras": "larger than 600 MB",
        inside / "lambda.keras": "contains Python code",
        inside / "os-system.keras": "not a readable Keras model",
    }
    answers = {}
    for path, phrase in cases.items():
        with pytest.raises(ModelError) as caught:
            load_model(path, runs_dir)
        answers[str(path)] = str(caught.value)
        assert phrase in str(caught.value), answers
        assert_one_sentence(str(caught.value))
    print("\n".join(f"{path}: {answer}" for path, answer in answers.items()))
    assert not marker.exists(), "a refused model file ran its code"


BAD_RUN_NAMES = [
    "../x", "../../etc", "/abs", "/tmp/abs", "a/b", "a\\b", "a\x00b", "a\nb", "abc\n", "\nabc", "a" * 65,
    ".", "..", ".hidden", "-rf", "a b", "run\t",
]


def test_bad_run_names_are_refused_and_nothing_is_created(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    answers = {}
    for name in BAD_RUN_NAMES:
        for attempt in (lambda: create_run(runs_dir, tiny_config(), name=name), lambda: open_run(runs_dir, name),
                        lambda: launch(runs_dir, name, config=tiny_config())):
            with pytest.raises(RunError) as caught:
                attempt()
            assert_one_sentence(str(caught.value))
            assert "A run name uses letters" in str(caught.value) and repr(name) in str(caught.value)
            answers[name] = str(caught.value)
        if name[:1] in ".-":
            assert "starts with a letter or digit" in answers[name]
    print("\n".join(f"{name!r}: {answer}" for name, answer in answers.items()))
    leftovers = sorted(path.name for path in runs_dir.iterdir() if not path.name.startswith("."))
    assert leftovers == [], f"bad names created folders: {leftovers!r}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["runs"]
    # An empty name means "choose one" when creating, but opens nothing.
    with pytest.raises(RunError, match="A run name uses"):
        open_run(runs_dir, "")
    # The longest allowed name still works: the limit is 64, as the sentence says.
    assert run_path(runs_dir, "a" * 64).name == "a" * 64


# ---------------------------------------------------------------------------------------------
# 5. A corrupt checkpoint, and 6. files cut short by a crash
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["random bytes", "empty file", "first half of the zip"])
def test_resuming_from_a_corrupt_checkpoint_fails_in_one_sentence_and_keeps_the_run(damage, trained_runs_dir, image_folder, tmp_path):
    runs_dir = tmp_path / "runs"
    shutil.copytree(trained_runs_dir / "tiny", runs_dir / "broken")
    run = open_run(runs_dir, "broken")
    write_json_atomically(run.config_path, json.loads(run.config().replace(epochs=5).to_json()))
    # As if the run died after epoch 3's lines but before its checkpoint: a resume that read the
    # checkpoint would cut the metrics back to epoch 2, so any cut shows.
    epoch_two = next(row for row in run.metrics() if row["kind"] == "epoch" and row["epoch"] == 2)
    write_json_atomically(run.path / "checkpoint.json", {"epochs_done": 2, "step": epoch_two["step"], "elapsed": epoch_two["elapsed"]})
    real = run.checkpoint_path.read_bytes()
    run.checkpoint_path.write_bytes(
        {"random bytes": random.Random(1).randbytes(len(real)), "empty file": b"", "first half of the zip": real[: len(real) // 2]}[damage]
    )
    kept = {name: (run.path / name).read_bytes() for name in ("metrics.jsonl", "config.json", "checkpoint.json", "checkpoint.keras", "model.keras")}

    status = train_run_quietly(run, image_folder)

    print(f"{damage}: {status['state']}: {status.get('error')}")
    assert status["state"] == "failed"
    assert "checkpoint" in status["error"] and "cannot be read" in status["error"]
    assert_one_sentence(status["error"])
    assert open_run(runs_dir, "broken").status()["state"] == "failed"
    for name, content in kept.items():
        assert (run.path / name).read_bytes() == content, f"{name} changed"


def train_run_quietly(run, data_dir):
    from vgg.train import train_run

    return train_run(run, data_dir=data_dir, progress=quiet)


def metrics_lines(epochs=3, steps_per_epoch=4):
    lines = []
    for epoch in range(epochs):
        for batch in range(steps_per_epoch):
            step = epoch * steps_per_epoch + batch + 1
            lines.append(json.dumps({"kind": "batch", "step": step, "epoch": epoch + (batch + 1) / steps_per_epoch,
                                     "loss": 2.0 / step, "accuracy": 0.1 * epoch}))
        lines.append(json.dumps({"kind": "epoch", "step": (epoch + 1) * steps_per_epoch, "epoch": epoch + 1,
                                 "loss": 1.0 / (epoch + 1), "val_accuracy": 0.3 + 0.2 * epoch, "val_loss": 1.0}))
    return [line + "\n" for line in lines]


def test_runs_with_files_cut_short_are_still_listed(tmp_path):
    runs_dir = tmp_path / "runs"
    complete = "".join(metrics_lines())
    last_epoch_line = metrics_lines()[-1]
    damaged = {
        # name: (what happens to status.json, metrics.jsonl content, expected state, expected epochs done)
        "status-half": ("half", complete, "unknown", 3),
        "status-empty": ("empty", complete, "unknown", 3),
        "status-zeros": ("zeros", complete, "unknown", 3),
        "status-one-brace": ("brace", complete, "unknown", 3),
        "metrics-torn": (None, complete[: -len(last_epoch_line) // 2], "created", 2),
        "metrics-zeros": (None, complete + "\0" * 300, "created", 3),
        # Appending after a crash glues the first new line to the torn one: that line is lost, the rest read.
        "metrics-torn-then-appended": (None, "".join(metrics_lines(2)) + '{"kind": "batch", "st' + "".join(metrics_lines(3)[-5:]), "created", 3),
        "metrics-no-newline": (None, complete.rstrip("\n"), "created", 3),
        "both-torn": ("half", complete[: -len(last_epoch_line) // 2], "unknown", 2),
    }
    for name, (status_damage, metrics, _, _) in damaged.items():
        run = create_run(runs_dir, tiny_config(), name=name)
        run.metrics_path.write_text(metrics)
        text = run.status_path.read_text()
        if status_damage:
            run.status_path.write_text(
                {"half": text[: len(text) // 2], "empty": "", "zeros": "\0" * len(text), "brace": "{"}[status_damage]
            )

    listed = {run.name: run.summary() for run in list_runs(runs_dir)}
    assert sorted(listed) == sorted(damaged)
    for name, (_, _, state, epochs_done) in damaged.items():
        assert listed[name]["state"] == state, (name, listed[name])
        assert listed[name]["epochs_done"] == epochs_done, (name, listed[name])
        assert listed[name]["epochs"] == tiny_config().epochs
    assert active_run(runs_dir) is None

    # The command line lists them too, in JSON and as text.
    for extra in (["--json"], []):
        result = subprocess.run([sys.executable, "-m", "vgg", "runs", "--runs-dir", str(runs_dir)] + extra,
                                capture_output=True, text=True, env=subprocess_environment(), cwd=PROJECT_ROOT, timeout=120)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
        for name in damaged:
            assert name in result.stdout


# ---------------------------------------------------------------------------------------------
# 3. A full disk, on a real 8 MB filesystem
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB tmpfs: it runs out of space like a full disk does (root only)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                                capture_output=True, text=True, timeout=30)
        reason = result.stderr.strip() or f"exit code {result.returncode}"
    except OSError as error:
        result, reason = None, str(error)
    if result is None or result.returncode != 0:
        message = f"cannot mount a small tmpfs here ({reason}); the full-disk tests need root"
        print(message)
        pytest.skip(message)
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def free_bytes(folder):
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def fill_disk(folder, leave_bytes=0):
    """Writes a filler file until only `leave_bytes` are free (or nothing at all)."""
    file = open(pathlib.Path(folder) / f"filler-{time.monotonic_ns()}", "wb", buffering=0)
    try:
        file.write(b"\1" * max(0, free_bytes(folder) - leave_bytes))
        while leave_bytes == 0:
            file.write(b"\1" * 4096)
    except OSError:
        pass
    finally:
        try:
            file.close()
        except OSError:
            pass
    return free_bytes(folder)


def test_a_full_disk_keeps_the_last_status_and_says_why(small_disk, image_folder):
    runs_dir = small_disk / "runs"
    run = create_run(runs_dir, tiny_config(), name="kept")
    run.update_status(state="stopped", note="saved before the disk filled")
    before = run.status_path.read_bytes()
    assert fill_disk(small_disk) == 0

    answers = []
    with pytest.raises(RunError) as caught:
        write_json_atomically(run.status_path, {"state": "finished", "notes": "x" * 20_000})
    answers.append(str(caught.value))
    with pytest.raises(RunError) as caught:
        run.update_status(state="finished")
    answers.append(str(caught.value))
    with pytest.raises(RunError) as caught:
        launch(runs_dir, "another", config=tiny_config(), data_dir=image_folder)
    answers.append(str(caught.value))
    print("\n".join(answers))
    for answer in answers:
        assert "No space left on device" in answer and "what was saved before is kept" in answer, answer
        assert_one_sentence(answer)
    assert "status.json" in answers[0] and "config.json" in answers[2]

    assert run.status_path.read_bytes() == before
    assert run.status()["state"] == "stopped" and run.status()["note"] == "saved before the disk filled"
    assert [path.name for path in run.path.iterdir() if path.name.endswith(".tmp")] == []
    assert [r.name for r in list_runs(runs_dir)] == ["kept"] and active_run(runs_dir) is None

    # Once space is freed, the user retries under the same name, and it works.
    for filler in small_disk.glob("filler-*"):
        filler.unlink()
    assert create_run(runs_dir, tiny_config(), name="another").status()["state"] == "created"


def fill_after_first_checkpoint(run, disk, leave_bytes):
    """Fills `disk` the moment the run's first checkpoint is saved, like another program would."""

    def fill():
        deadline = time.monotonic() + 300
        while not (run.path / "checkpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        fill_disk(disk, leave_bytes)

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    return thread


def test_a_run_that_fills_the_disk_ends_failed_and_keeps_its_last_checkpoint(small_disk, image_folder):
    import keras

    from vgg.train import load_checkpoint

    runs_dir = small_disk / "runs"
    run = create_run(runs_dir, tiny_config(epochs=3), name="full", data_dir=str(image_folder))
    # 256 KB stay free: enough for metrics and status, not for the next 1 MB checkpoint.
    filler = fill_after_first_checkpoint(run, small_disk, leave_bytes=256 * 1024)
    status = train_run_quietly(run, image_folder)
    filler.join(timeout=60)

    print(f"{status['state']}: {status.get('error')}")
    assert status["state"] == "failed", status.get("traceback", "")[-1500:]
    assert "No space left on device" in status["error"] and "checkpoint" in status["error"]
    assert_one_sentence(status["error"])
    assert open_run(runs_dir, "full").status()["state"] == "failed"
    assert not (run.path / ".checkpoint.tmp.keras").exists(), "a half-written checkpoint keeps the disk full"
    # What was saved is kept: the epoch-1 checkpoint loads and matches its record, the metrics read.
    saved = read_json(run.path / "checkpoint.json")
    assert saved["epochs_done"] == 1
    model = load_checkpoint(run)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == saved["step"]
    assert [row["epoch"] for row in run.metrics() if row["kind"] == "epoch"][0] == 1
    assert run.summary()["state"] == "failed"


def test_cli_training_onto_a_disk_that_fills_up_prints_one_error_line(small_disk, image_folder):
    runs_dir = small_disk / "runs"
    run = create_run(runs_dir, tiny_config(epochs=3), name="cli-full", data_dir=str(image_folder))
    filler = fill_after_first_checkpoint(run, small_disk, leave_bytes=0)
    result = subprocess.run(
        [sys.executable, "-m", "vgg", "train", "--resume", "cli-full", "--runs-dir", str(runs_dir), "--data-dir", str(image_folder)],
        capture_output=True, text=True, env=subprocess_environment(), cwd=PROJECT_ROOT, timeout=300,
    )
    filler.join(timeout=60)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    print(errors)
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr[-2000:]
    assert_one_sentence(errors[0])
    # Nothing could be written, so the run shows what its last good files say.
    assert read_json(run.status_path) is not None and run.status()["state"] in ("failed", "interrupted")
    assert read_json(run.path / "checkpoint.json")["epochs_done"] >= 1
    assert not (run.path / ".checkpoint.tmp.keras").exists()


# ---------------------------------------------------------------------------------------------
# 2. Two Start presses at once, without a browser
# ---------------------------------------------------------------------------------------------


def stop_and_wait(run, process=None):
    """Stops a training run this test started and waits until it no longer counts as active."""
    try:
        run.request_stop()
    except RunError:
        pass  # It ended already.
    if process is not None:
        process.wait(timeout=120)
    return wait_for(run, NOT_ACTIVE, 120)


def test_two_threads_launching_at_once_start_exactly_one_run(image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", subprocess_environment()["PYTHONPATH"])
    for attempt in range(4):
        runs_dir = tmp_path / f"runs-{attempt}"
        barrier = threading.Barrier(2)
        results = {}

        def start(name):
            barrier.wait()
            try:
                results[name] = launch(runs_dir, name, config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
            except RunError as error:
                results[name] = error

        threads = [threading.Thread(target=start, args=(name,)) for name in ("left", "right")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        started = {name: value for name, value in results.items() if isinstance(value, tuple)}
        refused = {name: value for name, value in results.items() if isinstance(value, RunError)}
        try:
            assert len(started) == 1 and len(refused) == 1, results
            (winner, (run, _)), = started.items()
            message = str(next(iter(refused.values())))
            assert f"Run {winner!r} is already training" in message
            assert_one_sentence(message)
            assert active_run(runs_dir).name == winner
            assert sorted(path.name for path in runs_dir.iterdir() if not path.name.startswith(".")) == [winner]
        finally:
            for run, process in started.values():
                stop_and_wait(run, process)


# ---------------------------------------------------------------------------------------------
# 1 and 2 in the browser: one real server, several sessions at once
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory, image_folder, trained_runs_dir):
    """A real `streamlit run` over generated data and a runs folder with one tiny model."""
    root = tmp_path_factory.mktemp("hardening-server")
    with running_app(root, image_folder, trained_runs_dir) as (url, runs_dir, log):
        yield types.SimpleNamespace(url=url, runs_dir=runs_dir, log=log)
        # Only a failing test shows this; it says what the server said while the sessions ran.
        print(log.read_text()[-4000:])


def new_page(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    # A page the browser could not draw says why only here; a failing test prints these.
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(f"{error}\n{error.stack}"))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(url)
    return page


def close_pages(pages, folder):
    """Closes the sessions' pages; first saves what each showed, which a failing test prints."""
    from playwright.sync_api import Error

    for index, page in enumerate(pages):
        try:
            page.screenshot(path=str(folder / f"session-{index}.png"), full_page=True)
            print(f"session {index} at {page.url} showed {page.locator('body').inner_text()[:1000]!r}; browser errors: {page.errors}")
        except Error as error:
            # A crashed page cannot be pictured; the others must still close and the runs stop.
            print(f"session {index} could not be saved: {error}; browser errors: {page.errors}")
        page.context.close()


def no_exception_or_error(page):
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def class_chooser(page):
    return page.get_by_test_id("stMultiSelect").filter(has_text="Classes")


def choose_only_class(page, name):
    from playwright.sync_api import expect

    expect(page.get_by_text("Source: local folder")).to_be_visible(timeout=120_000)
    chooser = class_chooser(page)
    chooser.get_by_role("button", name="Clear all").click()
    box = chooser.get_by_role("combobox", name="Classes")
    box.fill(name)
    box.press("Enter")
    box.press("Escape")


def expect_only_class(page, name):
    from playwright.sync_api import expect

    expect(class_chooser(page).locator("[data-tag]")).to_have_count(1, timeout=60_000)
    expect(class_chooser(page).locator("[data-tag]")).to_have_attribute("aria-label", name)
    # The grid's row labels: one bold class name per chosen class.
    labels = page.get_by_test_id("stMarkdownContainer").locator("strong").filter(has_text=re.compile(f"^({'|'.join(CLASS_NAMES)})$"))
    expect(labels).to_have_text([name], timeout=60_000)


def test_five_sessions_at_once_while_a_run_trains(browser, server, image_folder, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("PYTHONPATH", subprocess_environment()["PYTHONPATH"])
    images, labels = generated_images(per_class=1, seed=9)
    uploads = {}
    for name, label in (("my-ship.png", 8), ("my-frog.png", 6)):
        uploads[name] = tmp_path / name
        uploads[name].write_bytes(png_bytes(images[list(labels).index(label)].repeat(8, axis=0).repeat(8, axis=1)))

    run, process = launch(server.runs_dir, "bg", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
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
        expect(train.get_by_text(re.compile(r"Run bg is training"))).to_be_visible()
        # Under this load the settings above the run take a while to draw; the button must come disabled.
        expect(train.get_by_role("button", name="Start training")).to_be_disabled(timeout=90_000)
        expect_only_class(data_cat, "cat")
        expect_only_class(data_ship, "ship")
        for page, mine, theirs in ((predict_ship, "my-ship.png", "my-frog.png"), (predict_frog, "my-frog.png", "my-ship.png")):
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
        assert run.status()["state"] == "running" and len(run.metrics()) > 0
    finally:
        close_pages(pages, tmp_path)
        stop_and_wait(run, process)


def test_an_idle_train_page_follows_a_run_started_elsewhere(browser, server, image_folder, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("PYTHONPATH", subprocess_environment()["PYTHONPATH"])
    assert wait_for_no_active_run(server.runs_dir, 120)
    page = new_page(browser, server.url + "/train")
    run = process = None
    try:
        start = page.get_by_role("button", name="Start training")
        expect(start).to_be_enabled(timeout=120_000)
        # Started as `python -m vgg train` would be from a terminal: this page is not told.
        run, process = launch(server.runs_dir, "from-terminal", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
        os.setpriority(os.PRIO_PROCESS, process.pid, 10)
        expect(page.get_by_text(re.compile(r"\bfrom-terminal is (queued|running) ·"))).to_be_visible(timeout=60_000)
        expect(start).to_be_disabled(timeout=60_000)
        # From then on the run's own view redraws itself: it follows the run from queued to training.
        assert wait_for(run, ("running",), 120)["state"] == "running"
        expect(page.get_by_text(re.compile(r"\bfrom-terminal is running ·"))).to_be_visible(timeout=60_000)
        stop_and_wait(run, process)
        expect(page.get_by_text(re.compile(r"\bfrom-terminal is stopped ·"))).to_be_visible(timeout=60_000)
        expect(start).to_be_enabled(timeout=60_000)
        no_exception_or_error(page)
    finally:
        page.context.close()
        if run is not None:
            stop_and_wait(run, process)


def test_two_sessions_pressing_start_together_start_one_run(browser, server, tmp_path):
    from playwright.sync_api import expect

    runs_dir = server.runs_dir
    assert wait_for_no_active_run(runs_dir, 120)
    before = {path.name for path in runs_dir.iterdir() if path.is_dir()}
    pages = []
    started = None
    try:
        pages = [new_page(browser, server.url + "/train") for _ in range(2)]
        buttons = [page.get_by_role("button", name="Start training") for page in pages]
        for page, button in zip(pages, buttons):
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
        for page, box in zip(pages, boxes):
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

        most_active, settled_at = 0, None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            active = [run for run in list_runs(runs_dir) if run.status().get("state") in ACTIVE_STATES]
            most_active = max(most_active, len(active))
            started = started or (active[0] if active else None)
            if started and all(page_refused_or_disabled(page) for page in pages):
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at > 5:  # A second run would have appeared by now.
                    break
            time.sleep(0.3)
        created = {path.name for path in runs_dir.iterdir() if path.is_dir()} - before
        print(f"created {created}, most active at once {most_active}, "
              f"refusals shown {[page.get_by_text('is already training').count() for page in pages]}")
        assert started is not None, "neither press started a run"
        assert most_active == 1, "two runs were training at once"
        assert created == {started.name}
        assert active_run(runs_dir).name == started.name
        for page in pages:
            assert page_refused_or_disabled(page)
            expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        close_pages(pages, tmp_path)
        for run in list_runs(runs_dir):
            if run.status().get("state") in ACTIVE_STATES:
                stop_and_wait(run)


def wait_for_no_active_run(runs_dir, timeout_seconds):
    deadline = time.monotonic() + timeout_seconds
    while active_run(runs_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.3)
    return active_run(runs_dir) is None


def page_refused_or_disabled(page):
    if page.get_by_text(re.compile(r"is already training on this machine")).count():
        return True
    button = page.get_by_role("button", name="Start training")
    # count() first: is_disabled() would wait for a button that is still being drawn.
    return button.count() == 1 and button.is_disabled()
