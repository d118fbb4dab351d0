"""What people call a run, everywhere the app names one (status lines, legends, model pickers): its title, or its
preset's description and settings in words, and who started it; never its folder's timestamp."""

import datetime
import re

from vgg.core.config import PRESET_DESCRIPTIONS, changes_from_preset
from vgg.core.errors import UserError
from vgg.core.words import UNSAID_SETTINGS, settings_words

MAX_NAMED_CHANGES = 3  # More would not fit a picker; the Run board lists them all.
FIX_SUFFIX = re.compile(r"^(?P<base>.*?)(?:, fix (?P<number>\d+)|(?P<fixed>(?:, fixed)+))$")


def preset_title(preset):
    """A preset's description up to its colon ("The blog's recipe on 3,000 images for one epoch")."""
    description = PRESET_DESCRIPTIONS.get(preset)
    return description.split(":")[0].rstrip(".") if description else f"{preset or 'cpu'} preset"


def run_title(config, status):
    """The run's title, or its preset's with the settings it changed in words: what a person calls it."""
    if status.title:
        return status.title
    changes = {
        name: value for name, value in changes_from_preset(config, status.preset).items() if name not in UNSAID_SETTINGS
    }
    words = settings_words(dict(list(changes.items())[:MAX_NAMED_CHANGES]))
    return f"{preset_title(status.preset)} ({words})" if words else preset_title(status.preset)


def display_name(config, status, with_owner=True):
    """'blog recipe (demo) · Ada': the title and who started it; an untitled run also says when it started."""
    name = run_title(config, status)
    if not status.title and status.created:
        name += f" · {datetime.datetime.fromisoformat(status.created):%H:%M}"
    return f"{name} · {status.owner}" if status.owner and with_owner else name


def name_of(run, with_owner=True):
    """What people call `run`, or its folder's name when its files cannot say (a damaged run)."""
    return _read_names(run)[0 if with_owner else 1]


def _read_names(run):
    """(name with its owner, name alone, when it started) from one read of the run's files."""
    try:
        config, status = run.config(), run.status()
    except UserError:
        return run.name, run.name, ""
    return display_name(config, status), display_name(config, status, with_owner=False), status.created or ""


def _numbered(named):
    """{folder: name} of `named` ({folder: (name, age)}) with names alike numbered by age."""
    taken, distinct = set(), {}
    for folder, (name, _) in sorted(named.items(), key=lambda item: (item[1][1], item[0])):
        label, count = name, 1
        while label in taken:
            count += 1
            label = f"{name} ({count})"
        taken.add(label)
        distinct[folder] = label
    return distinct


def distinct_name_pairs(runs):
    """({folder name: what people call the run}, the same without who started it) of `runs`, in their order, where
    runs called alike are numbered by when they were started ('… · 20:32', '… · 20:32 (2)'): a picker tells its
    choices apart only by what it shows (Streamlit hands back the last of equal labels, whichever was chosen)."""
    read = {run.name: _read_names(run) for run in runs}
    with_owner = _numbered({folder: (names[0], names[2]) for folder, names in read.items()})
    alone = _numbered({folder: (names[1], names[2]) for folder, names in read.items()})
    return {run.name: with_owner[run.name] for run in runs}, {run.name: alone[run.name] for run in runs}


def distinct_names(runs, with_owner=True):
    """{folder name: what people call the run} of `runs`, each distinct (distinct_name_pairs)."""
    return distinct_name_pairs(runs)[0 if with_owner else 1]


def fix_title(title):
    """The title of a run that fixes run `title`: 'blog, fix 1', then 'blog, fix 2', never 'blog, fixed, fixed'."""
    match = FIX_SUFFIX.match(title)
    if match is None:
        return f"{title}, fix 1"
    done = int(match["number"]) if match["number"] else match["fixed"].count(", fixed")
    return f"{match['base']}, fix {done + 1}"
