"""What the commands share: the settings' options, the model options, the runs folder, and printing."""

import argparse
import dataclasses
import json
import pathlib

from vgg.core import config as config_module
from vgg.core.config import DEFAULT_PRESET, PRESETS, TrainConfig


def add_setting_options(parser):
    """One option per TrainConfig field, so the CLI can never fall behind the settings."""
    group = parser.add_argument_group("settings (override the preset)")
    for field in dataclasses.fields(TrainConfig):
        option = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            group.add_argument(option, dest=field.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = {"int": int, "float": float, "str": str}.get(
                field.type if isinstance(field.type, str) else field.type.__name__, str
            )
            group.add_argument(option, dest=field.name, type=kind, default=None, metavar=field.name.upper())


def config_from_args(args):
    config = config_module.preset(args.preset)
    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)}
    return config_module.validate(
        config.replace(**{name: value for name, value in overrides.items() if value is not None})
    )


def train_config(options):
    """The TrainConfig a `python -m vgg train` command line's preset and settings (`options`, a list) describe."""
    parser = argparse.ArgumentParser(prog="python -m vgg train")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS))
    add_setting_options(parser)
    return config_from_args(parser.parse_args(options))


def say(args, value, text):
    print(json.dumps(value, indent=2) if args.json else text)


RUNS_DIR_HELP = "runs folder (default: $VGG_RUNS_DIR or ./runs)"


def runs_dir_of(args):
    """The runs folder a command works in: --runs-dir, else $VGG_RUNS_DIR, else ./runs."""
    from vgg.core.paths import default_runs_dir

    return pathlib.Path(args.runs_dir or default_runs_dir())


def model_path_from_args(args):
    """(the model file the arguments name, the runs folder that may hold it). --run opens a run's own model file in
    --runs-dir; a --model path is trusted only inside the app's runs folder ($VGG_RUNS_DIR, else ./runs) or
    assets/, never inside --runs-dir: the same command line would both name a file and declare it trusted."""
    from vgg.explain import predictor as inference
    from vgg.runs import folder as runs
    from vgg.runs import record as model_record

    if args.run:
        run = runs.open_run(runs_dir_of(args), args.run)
        return (run.model_path if run.model_path.exists() else run.checkpoint_path), runs_dir_of(args)
    if args.model:
        return pathlib.Path(args.model), None
    path = model_record.default_model_path()
    if path is None:
        raise inference.ModelError("No model given and none ships in assets/; pass --model or --run.")
    return path, None


def add_model_options(command):
    command.add_argument("--model", help="a .keras file in the runs folder or assets/ (default: the shipped model)")
    command.add_argument("--run", help="use this run's final model (or its checkpoint)")
    command.add_argument("--runs-dir", help=RUNS_DIR_HELP)
