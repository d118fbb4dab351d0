"""Inside VGG16: the architecture block by block, the feature maps of every block for one image, the filters."""

import streamlit as st

from app_pages.common import image_choice_ui, model_choice_ui
from vgg.model import conv_layers
from vgg.visualize import (
    deep_filters, enlarge, feature_map_grid, first_layer_filters, receptive_fields, strongest_channels,
)

BLOCK_STORIES = {
    1: "Block 1 looks at tiny patches of raw pixels and answers simple questions: is there an edge here, "
       "at this angle? a patch of this colour? Its filters look like the first stage of any vision system.",
    2: "Block 2 combines edges into corners, curves and simple textures, seen on a 16x16 grid.",
    3: "Block 3 sees textures and repeated patterns over a larger area: fur, feathers, wheels' spokes, water.",
    4: "Block 4 responds to parts of objects (an eye, a wing, a wheel) anywhere in a wide window of the image.",
    5: "Block 5 sees the whole 32x32 image at once and responds to what the classes are made of; the "
       "classifier reads its features to decide.",
}


def architecture_ui(model):
    from vgg.model import block_summaries, describe

    description = describe(model)
    fields = receptive_fields(model)
    st.caption(f"{description['name']}: {description['conv_layers']} conv layers, {description['params']:,} parameters.")
    for block in block_summaries(model):
        height, width, channels = block["output_shape"]
        pool = f"block{block['block']}_pool"
        with st.expander(
            f"Block {block['block']}: {block['convs']} conv layers → {height}x{width}x{channels} · receptive field "
            f"{fields.get(pool, '?')} px · {block['params']:,} parameters"
        ):
            st.write(BLOCK_STORIES[block["block"]])
            st.dataframe(
                [{"layer": row["name"], "kind": row["kind"], "output shape": "x".join(map(str, row["output_shape"][1:])),
                  "parameters": row["params"], "receptive field (px)": fields.get(row["name"])} for row in block["layers"]],
                hide_index=True,
            )
    head = [row for row in description["layers"] if row["block"] is None and row["params"]]
    st.caption("Classifier: " + ", ".join(f"{row['name']} ({row['params']:,} parameters)" for row in head))


def feature_maps_ui(predictor, image):
    from vgg.model import block_of

    maps = predictor.feature_maps(image)
    columns = st.columns([2, 1, 1])
    names = predictor.activation_names + predictor.pool_names
    order = sorted(names, key=lambda name: (block_of(name), name.endswith("_pool"), name))
    layer = columns[0].select_slider("Layer", order, value=order[0], key="feature_layer")
    count = columns[1].slider("Channels", 1, 64, 16, key="feature_count")
    shared = columns[2].toggle("Shared colour scale", True, key="feature_shared",
                               help="One scale for all maps compares channels; per-map scales show each map's pattern.")
    activation = maps[layer]
    st.caption(
        f"{layer}: {activation.shape[0]}x{activation.shape[1]} maps, {activation.shape[2]} channels "
        f"(showing {min(count, activation.shape[2])}). Bright = strong response; dark = zero, cut by the ReLU."
    )
    st.image(feature_map_grid(activation, count=count, shared_scale=shared, target_size=96))

    st.markdown("**Every block at a glance** (the strongest 8 channels at each block's end)")
    block_columns = st.columns(5)
    for block, column in zip(range(1, 6), block_columns):
        pooled = [name for name in predictor.activation_names if block_of(name) == block][-1]
        activation = maps[pooled]
        strongest = strongest_channels(activation, 8)
        # Every block's maps are enlarged to the same 64 pixels and fill their column, so the five
        # grids line up although block 1's maps are 16 times larger than block 5's.
        column.image(feature_map_grid(activation[..., strongest], count=8, shared_scale=False, target_size=64, columns=4),
                     caption=f"Block {block}: {activation.shape[0]}x{activation.shape[1]}", width="stretch")


def filters_ui(model):
    first = model.get_layer("block1_conv1").get_weights()[0]
    st.markdown("**First layer**: each 3x3 filter shown as the RGB patch that excites it most (stretched to its range).")
    st.image(first_layer_filters(first))
    conv_names = [layer.name for layer in conv_layers(model)][1:]
    layer_name = st.selectbox("Deeper layer", conv_names, key="filter_layer")
    kernel = model.get_layer(layer_name).get_weights()[0]
    st.caption(
        f"{layer_name}: {kernel.shape[3]} filters of 3x3x{kernel.shape[2]}; each square sums a filter over its "
        "input channels (red positive, blue negative weights)."
    )
    st.image(deep_filters(kernel, count=min(64, kernel.shape[3])))


def render():
    st.title("Inside VGG16")
    columns = st.columns([1, 1])
    with columns[0]:
        predictor = model_choice_ui("inside_model")
    with columns[1]:
        chosen = image_choice_ui("inside_image")
    if predictor is None:
        return
    architecture_tab, maps_tab, filters_tab = st.tabs(["Architecture", "Feature maps", "Filters"])
    with architecture_tab:
        architecture_ui(predictor.model)
    with maps_tab:
        if chosen is None:
            st.info("Choose a CIFAR-10 sample or upload an image to see its feature maps.")
        else:
            image, label = chosen
            left, right = st.columns([1, 4])
            left.image(enlarge(image, 4), caption=label)
            top = predictor.top_k(image, k=1)[0]
            right.markdown(f"The model says **{top.name}** ({top.probability:.0%}).")
            feature_maps_ui(predictor, image)
    with filters_tab:
        filters_ui(predictor.model)
