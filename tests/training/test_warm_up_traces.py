"""What the server's warm-up traces (vgg.explain.predictor.Predictor.warm_up): a class's first Mistakes or Nearest
images view must not wait while one session traces the model's functions and the other 29 queue behind it."""

import numpy as np

from vgg.explain.neighbours import feature_function, image_features
from vgg.explain.predictor import Predictor


def test_a_warmed_up_model_draws_grad_cam_and_nearest_images_without_tracing(tiny_model):
    predictor = Predictor(tiny_model).warm_up()
    grids, extractor = predictor._attention._grids, feature_function(tiny_model)
    traced = (grids.experimental_get_tracing_count(), extractor.experimental_get_tracing_count())
    assert min(traced) >= 1
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for block in (3, 4):  # As Mistakes' Inspect asks, for the true class and the answer.
        predictor.grad_cam(image, class_index=3, block=block)
    image_features(tiny_model, image)
    assert (grids.experimental_get_tracing_count(), extractor.experimental_get_tracing_count()) == traced
