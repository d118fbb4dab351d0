"""The commands that make what the project ships (its model, its replays), prepare the pages' analyses, and measure
this machine: export, replays, prepare, bench."""

import contextlib
import os
import sys

from vgg.cli.options import RUNS_DIR_HELP, add_model_options, model_path_from_args, runs_dir_of, say, train_config


def command_export(args):
    from vgg.runs import folder as runs
    from vgg.training.export import export_run

    run = runs.open_run(runs_dir_of(args), args.run)
    card = export_run(run, args.data_dir)
    say(
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
            config = train_config(options)
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
        path, runs_dir = model_path_from_args(args)
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
    from vgg.core.paths import PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT))
    from benchmarks import bench

    bench.main(args)


def add_commands(add):
    """The commands that make what the project ships (its model, its replays), prepare analyses and measure this
    machine, each with `add(name, help, function)` of the main parser."""
    prepare = add(
        "prepare", "compute what the pages compute on a model's first view, so that they open at once", command_prepare
    )
    add_model_options(prepare)
    prepare.add_argument("--shipped", action="store_true", help="the shipped models (the server starts this once)")
    prepare.add_argument("--data-dir", help="the image folder the pages load (default: $VGG_DATA_DIR, else Keras')")

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
