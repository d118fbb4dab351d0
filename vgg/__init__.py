"""VGG16 Lab's logic: CIFAR-10 data, the VGG family, training runs, inference.

Nothing here imports Streamlit; the app's pages only draw what this package computes.
"""

import os

# oneDNN's kernels made VGG training about 4x faster on an AVX2 AMD CPU where TensorFlow
# leaves them off by default (on AVX-512 CPUs it turns them on itself). The flag only counts
# before TensorFlow is imported, so it is set here, before any module of this package imports it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ start-up chatter buries our one-sentence errors in the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Keras 3 must run on TensorFlow: the run folders and saved models assume it.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
