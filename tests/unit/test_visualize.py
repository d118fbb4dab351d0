import numpy as np

from vgg.explain.visualize import colorize, enlarge, feature_map_grid, heatmap_overlay, receptive_fields, tile
from vgg.model.build import build_vgg


def test_vgg16_receptive_fields_are_the_textbook_ones():
    fields = receptive_fields(build_vgg("D", width=0.125))
    assert fields["block1_conv1"] == 3 and fields["block1_conv2"] == 5
    assert fields["block5_conv3"] == 196 and fields["block5_pool"] == 212


def test_colorize_maps_low_to_dark_and_high_to_bright():
    picture = colorize(np.array([[0.0, 1.0]]))
    assert picture.shape == (1, 2, 3) and picture.dtype == np.uint8
    assert picture[0, 0].sum() < picture[0, 1].sum()
    assert np.array_equal(colorize(np.zeros((2, 2)))[0, 0], colorize(np.zeros((2, 2)))[1, 1])


def test_enlarge_keeps_pixels_crisp():
    pixels = np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    large = enlarge(pixels, 4)
    assert large.shape == (4, 8, 3)
    assert set(map(tuple, large.reshape(-1, 3))) == {(255, 0, 0), (0, 0, 255)}


def test_tile_and_feature_grid_lay_out_channels_with_gaps():
    grid = tile(np.zeros((5, 10, 10, 3), dtype=np.uint8), columns=3, gap=2)
    assert grid.shape == (2 * 10 + 2, 3 * 10 + 2 * 2, 3)
    maps = np.random.default_rng(0).random((8, 8, 20))
    assert feature_map_grid(maps, count=16, target_size=32, columns=8).shape == (2 * 32 + 2, 8 * 32 + 7 * 2, 3)


def test_heatmap_overlay_brightens_where_the_heat_is():
    image = np.full((32, 32, 3), 60, dtype=np.uint8)
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    overlay = heatmap_overlay(image, heat)
    assert overlay[0, 0].sum() > overlay[31, 31].sum()
