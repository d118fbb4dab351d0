"""`python -m vgg`: train, evaluate, predict, describe, runs, doctor, prepare, export, replays, bench.

Every command takes --json, and a bad input ends in one sentence on stderr with exit code 2.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import sys

from vgg.core import config as config_module
from vgg.core.config import DEFAULT_PRESET, DEFAULT_SPLIT, PRESETS, TrainConfig
from vgg.core.errors import UserError


def _add_setting_options(parser):
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


def _config_from_args(args):
    config = config_module.preset(args.preset)
    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)}
    return config_module.validate(
        config.replace(**{name: value for name, value in overrides.items() if value is not None})
    )


def _print(args, value, text):
    print(json.dumps(value, indent=2) if args.json else text)


RUNS_DIR_HELP = "runs folder (default: $VGG_RUNS_DIR or ./runs)"


def runs_dir_of(args):
    """The runs folder a command works in: --runs-dir, else $VGG_RUNS_DIR, else ./runs."""
    from vgg.core.paths import default_runs_dir

    return pathlib.Path(args.runs_dir or default_runs_dir())


def command_train(args):
    from vgg.core import locks
    from vgg.runs import folder as runs
    from vgg.runs.status import State

    runs_dir = runs_dir_of(args)
    if args.resume:
        run = runs.open_run(runs_dir, args.resume)
        state = run.status().state
        if state == State.FINISHED:
            raise runs.RunError(f"Run {args.resume!r} has finished already; start a new run to train more.")
        # A launcher hands this process the run's lock; anyone else finding the run alive is refused.
        if run.alive() and locks.inherited(run.lock_path) is None:
            raise runs.RunError(f"Run {args.resume!r} is {state} already.")
    else:
        config = _config_from_args(args)
        if config.init_from:
            # Checked before a run folder exists, and made absolute: the app may resume the run from another folder.
            from vgg.explain.predictor import trusted_model_path

            config = config.replace(init_from=str(trusted_model_path(config.init_from, runs_dir)))
        run = runs.create_run(runs_dir, config, name=args.name, preset=args.preset, data_dir=args.data_dir)
    from vgg.runs.queue import NICENESS_VARIABLE
    from vgg.training.trainer import train_run

    if os.environ.get(NICENESS_VARIABLE, "").isdigit():
        os.nice(int(os.environ[NICENESS_VARIABLE]))  # Started by the app: below the web server's priority.
    progress = (lambda message: None) if args.json else (lambda message: print(message, flush=True))
    progress(f"Run folder: {run.path}")
    from vgg.training.phase_clock import process_start_time

    # The user has waited since the command started (Python and TensorFlow's import): the run's `preparing` too.
    status = train_run(run, data_dir=args.data_dir, progress=progress, started_at=process_start_time())
    if status.state == State.FAILED:
        raise runs.RunError(f"Run {run.name!r} failed: {status.error} (details in {run.status_path}).")
    summary = run.summary()
    text = f"{run.name}: {status.state}, validation accuracy {summary.val_accuracy}"
    if status.final_flip_average:
        text += f"; {summary.final_accuracy:.4f} with each image averaged with its mirror image, as the app predicts"
    _print(args, summary.to_dict(), text)


def _model_path_from_args(args):
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


def _predictor_from_args(args):
    from vgg.explain import predictor as inference

    path, runs_dir = _model_path_from_args(args)
    return inference.Predictor.for_file(path, runs_dir), str(path)


def command_evaluate(args):
    from vgg.data import cifar10 as data
    from vgg.explain import predictor as inference
    from vgg.runs import folder as runs

    predictor, path = _predictor_from_args(args)
    validation_size, seed = args.validation_size, args.seed
    if args.run:
        # A run is scored on the images its own split held out, never on ones it trained on.
        config = runs.open_run(runs_dir_of(args), args.run).config()
        validation_size = config.validation_size if validation_size is None else validation_size
        seed = config.seed if seed is None else seed
    dataset = data.load_cifar10(
        args.data_dir,
        validation_size=DEFAULT_SPLIT[0] if validation_size is None else validation_size,
        seed=DEFAULT_SPLIT[1] if seed is None else seed,
    )
    if len(dataset.y_val) == 0:
        raise data.DataError("There are no validation images to evaluate on; use a --validation-size above 0.")
    result = inference.evaluate(
        predictor.model,
        dataset.x_val,
        dataset.y_val,
        num_classes=len(dataset.class_names),
        flip_average=predictor.flip_average,
    )
    result.update(model=path, data=dataset.source, class_names=list(dataset.class_names))
    lines = [f"{path} on {dataset.source}"]
    if result["flip_average"]:
        lines.append(
            f"accuracy: {result['accuracy']:.4f} ({result['images']} images, each averaged with its "
            f"mirror image, as the app predicts; {result['single_view_accuracy']:.4f} on the images alone)"
        )
    else:
        lines.append(f"accuracy: {result['accuracy']:.4f} ({result['images']} images)")
    lines += [
        f"  {name:<11} {accuracy:.4f}"
        for name, accuracy in zip(dataset.class_names, result["per_class_accuracy"], strict=True)
    ]
    lines.append("confusion matrix (rows: true, columns: predicted):")
    lines += ["  " + " ".join(f"{count:5d}" for count in row) for row in result["confusion_matrix"]]
    _print(args, result, "\n".join(lines))


def _model_index(args, predictor, path):
    """The model's index of its training images, calibrated on validation images, read back or built once and
    saved where the app reads it (vgg.explain.neighbours); None, said on stderr, without training images."""
    from vgg.data import cifar10 as data
    from vgg.explain import neighbours
    from vgg.explain.evaluation import split_for

    split = split_for(path)
    try:
        dataset = data.load_cifar10(args.data_dir, *split)
    except UserError as error:
        # Predictions need no training images: only the unfamiliar flag is then left out.
        print(f"{error} Unfamiliar images are not flagged.", file=sys.stderr)
        return None
    index, problem = neighbours.index_for(path, dataset, split, lambda: predictor.model)
    if problem:
        print(problem, file=sys.stderr)
    return index


def _familiarity_fields(index, predictor, pixels):
    from vgg.explain.neighbours import image_features
    from vgg.explain.unfamiliar import familiarity

    known = index and familiarity(index.calibration, index.features, image_features(predictor.model, pixels))
    if not known:
        return {"unfamiliar_score": None, "unfamiliar_threshold": None, "unfamiliar": None}
    return {"unfamiliar_score": known.score, "unfamiliar_threshold": known.threshold, "unfamiliar": known.unfamiliar}


def _prediction_line(result):
    line = f"{result['image']}: " + ", ".join(f"{row['class']} {row['probability']:.1%}" for row in result["top"])
    return line + (" (unlike the training photos, so a guess)" if result["unfamiliar"] else "")


def command_predict(args):
    from vgg.data import uploads as images

    predictor, path = _predictor_from_args(args)
    index = _model_index(args, predictor, path)
    results = []
    for file_name in args.images:
        try:
            content = pathlib.Path(file_name).read_bytes()
        except OSError as error:
            raise images.ImageError(f"Cannot read {file_name} ({error.strerror}).") from None
        _, pixels = images.load_upload(content, file_name)
        top = predictor.top_k(pixels, k=args.top_k)
        results.append(
            {"image": file_name, "top": [{"class": row.name, "probability": row.probability} for row in top]}
            | _familiarity_fields(index, predictor, pixels)
        )
    _print(args, {"model": path, "predictions": results}, "\n".join(map(_prediction_line, results)))


def command_describe(args):
    from vgg.model import build as model_module

    if args.preset:
        config = config_module.preset(args.preset)
        model = model_module.build_from_config(config)
        source = f"preset {args.preset}"
    else:
        from vgg.explain import predictor as inference

        path, runs_dir = _model_path_from_args(args)
        source = str(path)
        model = inference.load_model(path, runs_dir)
    description = model_module.describe(model)
    description["source"] = source
    lines = [f"{description['name']} ({source})", f"{'layer':<16}{'kind':<20}{'output shape':<20}{'params':>12}"]
    for row in description["layers"]:
        lines.append(
            f"{row['name']:<16}{row['kind']:<20}{str(tuple(row['output_shape'] or ())):<20}{row['params']:>12,}"
        )
    lines.append(f"total parameters: {description['params']:,}")
    _print(args, description, "\n".join(lines))


def command_runs(args):
    from vgg.runs import folder as runs

    summaries = [run.summary() for run in runs.list_runs(runs_dir_of(args))]
    lines = [f"{'run':<36}{'state':<13}{'epochs':<9}{'val acc':<9}device"]
    for row in summaries:
        accuracy = f"{row.val_accuracy:.3f}" if row.val_accuracy is not None else "-"
        lines.append(
            f"{row.name:<36}{row.state:<13}{row.epochs_done}/{row.epochs or '?':<7}{accuracy:<9}"
            f"{row.device or row.problem or ''}"
        )
    _print(args, [row.to_dict() for row in summaries], "\n".join(lines) if summaries else "No runs yet.")


def _evidence_text(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{name} {_evidence_text(item)}" for name, item in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def command_doctor(args):
    from vgg.classroom.doctor import diagnose
    from vgg.core.config import train_command
    from vgg.runs import folder as runs

    run = runs.open_run(runs_dir_of(args), args.run)
    diagnosis = diagnose(run)
    lines = [f"{run.name}: {diagnosis.verdict}", diagnosis.sentence]
    lines += [f"  {name}: {_evidence_text(value)}" for name, value in diagnosis.evidence.items()]
    if diagnosis.fix_sentence:
        status = run.recorded_status()
        # The whole command, so the fix is one paste away: the run's preset, then what differs from it.
        command = train_command(diagnosis.fixed_config(run.config()), status.preset, status.data_dir)
        lines += [f"Fix: {diagnosis.fix_sentence}", f"  {command}"]
    _print(args, diagnosis.to_dict(), "\n".join(lines))


def command_export(args):
    from vgg.runs import folder as runs
    from vgg.training.export import export_run

    run = runs.open_run(runs_dir_of(args), args.run)
    card = export_run(run, args.data_dir)
    _print(
        args,
        card,
        f"Shipped {run.name} with {card['weights']} weights: "
        f"validation accuracy {card['val_accuracy']:.4f}; wrote assets/.",
    )


def command_replays(args):
    """Trains each shipped replay's recipe anew and copies its records into assets/replays/."""
    import tempfile

    from vgg.classroom import replays
    from vgg.runs import folder as runs
    from vgg.training.trainer import train_run

    with tempfile.TemporaryDirectory(prefix="vgg-replays-") as folder:
        for name, options in replays.RECIPES.items():
            config = _config_from_args(build_parser().parse_args(["train", *options]))
            run = runs.create_run(folder, config, name=name, preset=options[1], data_dir=args.data_dir)
            status = train_run(run, data_dir=args.data_dir, progress=lambda message: print(message, flush=True))
            if status.state != "finished":
                raise runs.RunError(f"The replay {name!r} did not finish: {status.error}")
            command = " ".join(["python -m vgg train", *options, "--data-dir", str(args.data_dir), "--name", name])
            print(f"Saved {replays.save(run, name, command, args.out)}")


def command_prepare(args):
    """Computes and saves what the pages compute on a model's first view: the shipped models' (what the server
    starts once per install) or one model's."""
    from vgg.data.cifar10 import default_data_dir
    from vgg.explain import ready
    from vgg.runs.record import SHIPPED_MODEL, SNAPSHOT_MODEL

    data_dir = args.data_dir or default_data_dir()
    if not args.shipped:
        path, runs_dir = _model_path_from_args(args)
        for problem in ready.prepare_files([path], data_dir, runs_dir):
            print(problem, file=sys.stderr)
        return
    with contextlib.suppress(OSError):
        os.nice(ready.SHIPPED_NICENESS)  # Before TensorFlow starts its threads, which inherit it.
    descriptor = ready.holding_shipped_lock()
    if descriptor is None:
        print("Another process prepares the shipped models' analyses already.")
        return
    try:
        shipped = [path for path in (SHIPPED_MODEL, SNAPSHOT_MODEL) if path.exists()]
        problems = ready.prepare_files(shipped, data_dir, runs_dir_of(args))
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            ready.mark_shipped_ready(shipped, data_dir)
    finally:
        os.close(descriptor)


def command_bench(args):
    # The bench is a tool beside the library, not part of it: benchmarks/ is imported from the project root.
    import sys

    from vgg.core.paths import PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT))
    from benchmarks import bench

    bench.main(args)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m vgg", description="VGG16 Lab: train and inspect VGG on CIFAR-10.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name, help_text, function):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--json", action="store_true", help="print machine-readable JSON")
        command.set_defaults(function=function)
        return command

    train = add("train", "train a VGG on CIFAR-10 as a run (or resume one)", command_train)
    train.add_argument(
        "--preset", default=DEFAULT_PRESET, choices=list(PRESETS), help=f"starting settings (default: {DEFAULT_PRESET})"
    )
    train.add_argument(
        "--data-dir", help="local image folder root/train/<class>/*.jpg (default: $VGG_DATA_DIR, else Keras' download)"
    )
    train.add_argument("--runs-dir", help=RUNS_DIR_HELP)
    train.add_argument("--name", help="run name (default: preset and time)")
    train.add_argument("--resume", metavar="RUN", help="resume this run from its last checkpoint")
    _add_setting_options(train)

    evaluate = add(
        "evaluate", "accuracy, per-class accuracy and confusion matrix on the validation split", command_evaluate
    )
    _add_model_options(evaluate)
    evaluate.add_argument("--data-dir", help="local image folder (default: $VGG_DATA_DIR, else Keras' download)")
    evaluate.add_argument("--validation-size", type=int, help="held-out images (default: the run's, else 5000)")
    evaluate.add_argument("--seed", type=int, help="seed of the held-out split (default: the run's, else 0)")

    predict = add("predict", "top-k classes for image files", command_predict)
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, WebP, GIF, BMP)")
    predict.add_argument("--top-k", type=int, default=5, choices=range(1, 11), metavar="K")
    _add_model_options(predict)
    predict.add_argument(
        "--data-dir",
        help="the image folder the model trained on, whose images say what is unfamiliar to it (default: "
        "$VGG_DATA_DIR, else Keras' download); its index is built once per model",
    )

    describe = add("describe", "layers, output shapes and parameters of a preset or a saved model", command_describe)
    describe.add_argument("--preset", choices=list(PRESETS))
    _add_model_options(describe)

    runs_command = add("runs", "list runs and their status", command_runs)
    runs_command.add_argument("--runs-dir", help=RUNS_DIR_HELP)

    doctor = add("doctor", "the training doctor's verdict on a run, its evidence and the fix to try", command_doctor)
    doctor.add_argument("run", metavar="RUN", help="the run to diagnose")
    doctor.add_argument("--runs-dir", help=RUNS_DIR_HELP)

    prepare = add(
        "prepare", "compute what the pages compute on a model's first view, so that they open at once", command_prepare
    )
    _add_model_options(prepare)
    prepare.add_argument("--shipped", action="store_true", help="the shipped models (the server starts this once)")
    prepare.add_argument("--data-dir", help="the image folder the pages load (default: $VGG_DATA_DIR, else Keras')")

    _add_maintenance_commands(add)
    return parser


def _add_model_options(command):
    command.add_argument("--model", help="a .keras file in the runs folder or assets/ (default: the shipped model)")
    command.add_argument("--run", help="use this run's final model (or its checkpoint)")
    command.add_argument("--runs-dir", help=RUNS_DIR_HELP)


def _add_maintenance_commands(add):
    """The commands that make what the project ships (its model, its replays) and measure this machine."""
    export = add("export", "ship a finished run as assets/vgg16_cifar10.keras with its model card", command_export)
    export.add_argument("--run", required=True, help="the finished run to ship")
    export.add_argument("--runs-dir", help=RUNS_DIR_HELP)
    export.add_argument("--data-dir", help="the data its validation split comes from")

    replays_command = add(
        "replays", "train the shipped replays (the blog's run and its fix) anew into assets/replays", command_replays
    )
    replays_command.add_argument("--data-dir", required=True, help="real CIFAR-10 as an image folder")
    replays_command.add_argument("--out", default=None, help="folder to write them to (default: assets/replays)")

    bench = add("bench", "measure training and inference speed on this machine", command_bench)
    bench.add_argument("--data-dir", help="local image folder for real images")
    bench.add_argument("--quick", action="store_true", help="fewer steps, for a smoke test")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.function(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    return 0
