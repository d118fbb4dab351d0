"""The Inside VGG16 page's Architecture tab: the network block by block, each layer's output shape, parameters
and receptive field."""

import streamlit as st

from vgg.explain.visualize import receptive_field_text, receptive_fields
from vgg.model.names import layer_label

FIELD_HELP = (
    "How many input pixels one value depends on. A field as wide as the 32-pixel image or wider covers "
    "the whole image (the squares near its edges see past it, into zero padding)."
)


def layer_rows(rows, fields, image_size, all_layers):
    """The table rows of one block: its conv and pooling layers, or every layer with `all_layers`."""
    shown = [row for row in rows if all_layers or row["kind"] in ("Conv2D", "MaxPooling2D")]
    table = []
    for row in shown:
        field = fields.get(row["name"])
        entry = {
            "layer": layer_label(row["name"]),
            "kind": row["kind"],
            "output shape": "x".join(map(str, row["output_shape"][1:])),
            "parameters": row["params"],
            "receptive field": "–" if field is None else receptive_field_text(field, image_size),
        }
        table.append(entry | ({"Keras name": row["name"]} if all_layers else {}))
    return table


def architecture_ui(model):
    from vgg.model.build import block_summaries, describe

    description = describe(model)
    fields = receptive_fields(model)
    image_size = model.inputs[0].shape[1]
    st.caption(
        f"{description['name']}: {description['conv_layers']} conv layers, {description['params']:,} parameters."
    )
    all_layers = st.toggle(
        "Show all layers",
        key="architecture_all_layers",
        help="Also the batch-norm and ReLU layers between the convs, with their Keras names.",
    )
    for block in block_summaries(model):
        height, width, channels = block["output_shape"]
        number = block["block"]
        conv_height, conv_width = next(row for row in block["layers"] if row["kind"] == "Conv2D")["output_shape"][1:3]
        field = receptive_field_text(fields[f"block{number}_pool"], image_size)
        with st.expander(
            f"Block {number}: {block['convs']} conv layers at {conv_height}x{conv_width}, pooled to "
            f"{height}x{width}x{channels} · receptive field {field} · {block['params']:,} parameters"
        ):
            st.dataframe(
                layer_rows(block["layers"], fields, image_size, all_layers),
                hide_index=True,
                column_config={
                    "receptive field": st.column_config.TextColumn(help=FIELD_HELP),
                    "parameters": st.column_config.NumberColumn(format="localized"),
                },
            )
    head = [row for row in description["layers"] if row["block"] is None and row["params"]]
    st.caption("Classifier: " + ", ".join(f"{row['name']} ({row['params']:,} parameters)" for row in head))
