"""The prediction path the app and the CLI share: flip-averaged probabilities, feature maps, Grad-CAM, evaluation."""

import numpy as np
import pytest

from helpers import generated_images
from vgg.explain.predictor import Predictor, evaluate
from vgg.runs.folder import open_run
from vgg.runs.record import SHIPPED_MODEL, ModelRecord


def test_an_image_and_its_mirror_get_the_same_answer(tiny_model):
    images, _ = generated_images(per_class=2, seed=5)
    predictor = Predictor(tiny_model)
    probabilities = predictor.probabilities(images)
    assert probabilities.shape == (20, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(predictor.probabilities(images[:, :, ::-1]), probabilities, atol=1e-6)
    # They are the mean of the two views the model sees.
    original = tiny_model.predict(images.astype("float32"), verbose=0)
    mirrored = tiny_model.predict(images[:, :, ::-1].astype("float32"), verbose=0)
    np.testing.assert_allclose(probabilities, (original + mirrored) / 2, atol=1e-5)
    np.testing.assert_allclose(Predictor(tiny_model, flip_average=False).probabilities(images), original, atol=1e-5)


def test_evaluate_scores_both_the_averaged_and_the_single_view(tiny_model):
    images, labels = generated_images(per_class=5, seed=6)
    result = evaluate(tiny_model, images, labels)
    original = tiny_model.predict(images.astype("float32"), verbose=0)
    mirrored = tiny_model.predict(images[:, :, ::-1].astype("float32"), verbose=0)
    assert result["accuracy"] == pytest.approx(((original + mirrored).argmax(axis=1) == labels).mean())
    assert result["single_view_accuracy"] == pytest.approx((original.argmax(axis=1) == labels).mean())
    assert np.sum(result["confusion_matrix"]) == 50 and result["images"] == 50
    assert evaluate(tiny_model, images, labels, flip_average=False)["accuracy"] == result["single_view_accuracy"]


def test_feature_maps_cover_every_conv_layer_and_halve_per_block(tiny_model):
    image, _ = generated_images(per_class=1, seed=7)
    maps = Predictor(tiny_model).feature_maps(image[0])
    conv_maps = [name for name in maps if not name.endswith("_pool")]
    assert len(conv_maps) == 13 and conv_maps[0] == "block1_relu1" and conv_maps[-1] == "block5_relu3"
    assert [maps[f"block{block}_pool"].shape[0] for block in range(1, 6)] == [16, 8, 4, 2, 1]
    # After ReLU, as a student reads them: no negative activations.
    assert all((maps[name] >= 0).all() for name in conv_maps)


def test_grad_cam_is_an_input_sized_map_for_the_class_asked(tiny_model):
    image, _ = generated_images(per_class=1, seed=8)
    predictor = Predictor(tiny_model)
    heatmap, predicted = predictor.grad_cam(image[3])
    assert heatmap.shape == (32, 32) and heatmap.min() >= 0 and heatmap.max() <= 1.0 + 1e-6
    assert predicted == int(Predictor(tiny_model, flip_average=False).probabilities(image[3]).argmax())
    assert predictor.grad_cam(image[3], class_index=7)[1] == 7


def test_mirror_averaging_is_used_only_for_models_trained_on_flips(trained_runs_dir, tmp_path):
    # The tiny run trained without augmentation: its own view only.
    assert ModelRecord.of(open_run(trained_runs_dir, "tiny").model_path).flip_average is False
    flipped_run = tmp_path / "flipped"
    flipped_run.mkdir()
    (flipped_run / "config.json").write_text('{"augment": true}')
    assert ModelRecord.of(flipped_run / "model.keras").flip_average is True
    # The shipped model's card says how it trained; a model with no record gets its own view.
    assert ModelRecord.of(SHIPPED_MODEL).flip_average is True
    assert ModelRecord.of(tmp_path / "stray.keras").flip_average is False


def test_each_model_is_described_with_its_score(trained_runs_dir, tmp_path):
    run = open_run(trained_runs_dir, "tiny")
    text = ModelRecord.of(run.model_path).summary()
    accuracy = run.status().final_accuracy
    assert text == f"VGG16 at width 0.125, trained 3 epochs: {accuracy:.1%} of validation images right."
    assert ModelRecord.of(tmp_path / "stray.keras").summary() is None
