"""CIFAR-10's facts, which every layer needs without loading it: its classes, image size and counts, and its pixel
statistics. Loading and splitting the images is vgg/data/cifar10.py's job."""

import math

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 32  # Pixels on each side; the network's input, which uploads are reduced to.
TRAINING_IMAGES = 50_000  # The training split, before a run holds its validation images out of it.
# The per-channel pixel mean and standard deviation on the [0, 1] scale (training split).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
# What a model that guesses scores: the cross-entropy of a uniform guess (ln 10, where the blog's run sat) and its
# accuracy.
CHANCE_LOSS = math.log(NUM_CLASSES)
CHANCE_ACCURACY = 1 / NUM_CLASSES
