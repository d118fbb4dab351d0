"""`python -m vgg`: train, evaluate, predict, describe, runs, doctor; prepare, export, replays, bench in maintenance."""

# Every command takes --json, and a bad input ends in one sentence on stderr with exit code 2 (`main`).

import argparse
import os
import pathlib
import sys

from vgg.cli import maintenance
from vgg.cli.options import (
    RUNS_DIR_HELP,
    add_model_options,
    add_setting_options,
    config_from_args,
    model_path_from_args,
    runs_dir_of,
    say,
)
from vgg.core.config import DEFAULT_PRESET, DEFAULT_SPLIT, PRESETS, preset
from vgg.core.errors import UserError


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
        config = config_from_args(args)
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
    say(args, summary.to_dict(), text)


def _predictor_from_args(args):
    from vgg.explain import predictor as inference

    path, runs_dir = model_path_from_args(args)
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
    say(args, result, "\n".join(lines))


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
    say(args, {"model": path, "predictions": results}, "\n".join(map(_prediction_line, results)))


def command_describe(args):
    from vgg.model import build as model_module

    if args.preset:
        config = preset(args.preset)
        model = model_module.build_from_config(config)
        source = f"preset {args.preset}"
    else:
        from vgg.explain import predictor as inference

        path, runs_dir = model_path_from_args(args)
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
    say(args, description, "\n".join(lines))


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
    say(args, [row.to_dict() for row in summaries], "\n".join(lines) if summaries else "No runs yet.")


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
    say(args, diagnosis.to_dict(), "\n".join(lines))


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
    add_setting_options(train)

    evaluate = add(
        "evaluate", "accuracy, per-class accuracy and confusion matrix on the validation split", command_evaluate
    )
    add_model_options(evaluate)
    evaluate.add_argument("--data-dir", help="local image folder (default: $VGG_DATA_DIR, else Keras' download)")
    evaluate.add_argument("--validation-size", type=int, help="held-out images (default: the run's, else 5000)")
    evaluate.add_argument("--seed", type=int, help="seed of the held-out split (default: the run's, else 0)")

    predict = add("predict", "top-k classes for image files", command_predict)
    predict.add_argument("images", nargs="+", help="image files (PNG, JPEG, WebP, GIF, BMP)")
    predict.add_argument("--top-k", type=int, default=5, choices=range(1, 11), metavar="K")
    add_model_options(predict)
    predict.add_argument(
        "--data-dir",
        help="the image folder the model trained on, whose images say what is unfamiliar to it (default: "
        "$VGG_DATA_DIR, else Keras' download); its index is built once per model",
    )

    describe = add("describe", "layers, output shapes and parameters of a preset or a saved model", command_describe)
    describe.add_argument("--preset", choices=list(PRESETS))
    add_model_options(describe)

    runs_command = add("runs", "list runs and their status", command_runs)
    runs_command.add_argument("--runs-dir", help=RUNS_DIR_HELP)

    doctor = add("doctor", "the training doctor's verdict on a run, its evidence and the fix to try", command_doctor)
    doctor.add_argument("run", metavar="RUN", help="the run to diagnose")
    doctor.add_argument("--runs-dir", help=RUNS_DIR_HELP)

    maintenance.add_commands(add)
    return parser


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
