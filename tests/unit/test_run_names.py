"""A run name can only name a folder inside the runs folder: bad names are refused before anything is created."""

import functools

import pytest

from helpers import assert_one_sentence, tiny_config
from vgg.classroom.launch import launch
from vgg.runs.folder import RunError, create_run, open_run, run_path

BAD_RUN_NAMES = [
    "../x",
    "../../etc",
    "/abs",
    "/tmp/abs",
    "a/b",
    "a\\b",
    "a\x00b",
    "a\nb",
    "abc\n",
    "\nabc",
    "a" * 65,
    ".",
    "..",
    ".hidden",
    "-rf",
    "a b",
    "run\t",
]


def test_bad_run_names_are_refused_and_nothing_is_created(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    answers = {}
    for name in BAD_RUN_NAMES:
        for attempt in (
            functools.partial(create_run, runs_dir, tiny_config(), name=name),
            functools.partial(open_run, runs_dir, name),
            functools.partial(launch, runs_dir, name, config=tiny_config()),
        ):
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
