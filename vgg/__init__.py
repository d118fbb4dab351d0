"""VGG16 Lab's logic: CIFAR-10 data, the VGG family, training runs, what a trained model sees, and the classroom.

Nothing here imports Streamlit; the app's pages (app_pages/) only draw what this package computes.

Packages by job, each importing only from those listed after it (tests/unit/test_architecture.py checks it):

    cli        `python -m vgg`: the command line over everything below
    classroom  teaching a class: class mode's limits, starting runs, the doctor, experiments, replays
    cluster    training the queue's runs on a Ray cluster (VGG_CLUSTER; nothing imports Ray without it)
    training   making a model: the trainer, optimizer, callbacks, probes, snapshots, export
    explain    inside a trained model: predictions, attention, maps, filters, top and nearest images, evaluations
    model      the VGG family in Keras: builder, layer names, batch norm, whitening, widening, device
    runs       run folders and their records: status, metrics, diagnostics, model records, the queue, disk
    data       CIFAR-10 on disk, the validation split, the training pipeline, uploaded photos
    core       settings, one-sentence errors, atomic files, locks, paths, cost estimates

core, runs and classroom never import TensorFlow or Keras (the Data page, the queue and the doctor stay light),
and data imports it only inside the functions that need it.
"""

import os

# TensorFlow leaves oneDNN's kernels off by default on some CPUs; they speed VGG's convolutions up on the CPUs
# measured. The flag only counts before TensorFlow is imported, so it is set here, before any module imports it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ start-up chatter buries our one-sentence errors in the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Keras 3 must run on TensorFlow: the run folders and saved models assume it.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Each package may import only from the packages after it; a module of a package imports its own freely.
LAYERS = ("cli", "classroom", "cluster", "training", "explain", "model", "runs", "data", "core")
# Packages that never import TensorFlow or Keras, not even inside a function.
WITHOUT_TENSORFLOW = ("core", "runs", "classroom")
