"""A run is named for people by its title and owner, or its preset and settings in words; never by its folder."""

from vgg.core.config import PRESETS
from vgg.core.words import settings_words
from vgg.runs.folder import create_run
from vgg.runs.naming import distinct_name_pairs, fix_title, name_of
from vgg.runs.record import model_names


def test_a_titled_run_is_named_by_title_and_owner_and_its_model_too(tmp_path):
    run = create_run(tmp_path, PRESETS["blog-short"], preset="blog-short", title="blog recipe (demo)", owner="Ada")
    run.model_path.write_bytes(b"")  # The picker lists a run by its final model file.
    assert name_of(run) == "blog recipe (demo) · Ada"
    assert model_names(tmp_path)[f"Run {run.name} (final)"] == "blog recipe (demo) · Ada (final)"


def test_runs_called_alike_are_numbered_where_their_names_meet(tmp_path):
    runs = [create_run(tmp_path, PRESETS["cpu"], preset="cpu", title="my run", owner=who) for who in ("Ada", "Ben")]
    with_owner, alone = distinct_name_pairs(runs)
    # The pickers show who started each, which tells the two apart; the run's own line says it apart from the name.
    assert [with_owner[run.name] for run in runs] == ["my run · Ada", "my run · Ben"]
    assert [alone[run.name] for run in runs] == ["my run", "my run (2)"]


def test_an_untitled_run_is_named_by_its_preset_and_what_it_changed_in_words(tmp_path):
    config = PRESETS["blog-short"].replace(batch_norm=True, learning_rate=1e-4)
    run = create_run(tmp_path, config, preset="blog-short")
    name = name_of(run)
    assert name.startswith("The blog's recipe on 3,000 images for one epoch (batch norm on, a learning rate of 0.0001)")
    assert run.name not in name


def test_a_chained_fix_counts_its_fixes():
    assert fix_title("blog recipe (demo)") == "blog recipe (demo), fix 1"
    assert fix_title("blog recipe (demo), fix 1") == "blog recipe (demo), fix 2"
    assert fix_title("blog recipe (demo), fixed, fixed") == "blog recipe (demo), fix 3"


def test_settings_read_as_words_not_config_names():
    words = settings_words({"width": 0.25, "train_subset": 2000, "validation_size": 500})
    assert words == "a quarter of the width, 2,000 training images, 500 validation images"
    assert settings_words({"batch_norm": False, "epochs": 1}) == "no batch norm, 1 epoch"
