"""Links from before the Inside VGG16 page named its image by `class` and `index`: `?image=val:<position>`
(Mistakes sent them, and teachers kept them), read as the page's own parameters."""

import streamlit as st

from app_pages import links
from app_pages.caches import dataset_or_message
from app_pages.choosers import sample_of
from app_pages.plain import plain, whole_number

OLD_LINK = ("image", "split")  # An older link's image (`val:<position>`) and split, from before `class` and `index`.


def translated_old_link(query, labels):
    """An older link's address `query` ({name: text}: `?model=<label>&image=val:<position>`) in this page's own
    parameters (`class` and `index`), or None when its image is not among the validation images `labels`."""
    image = query.get("image", "")
    position = whole_number(image.removeprefix("val:"))
    if not image.startswith("val:") or position is None or position >= len(labels) or "split" in query:
        return None
    class_name, number = sample_of(labels, position)
    return {name: text for name, text in query.items() if name not in OLD_LINK} | {
        "class": class_name,
        "index": str(number),
    }


def follow_old_link():
    """Rewrites an older link's address in this page's own parameters, which `links.follow` then opens; says in
    one sentence when its image is not here."""
    query = st.query_params.to_dict()
    if "image" not in query:
        return
    dataset, _ = dataset_or_message()
    translated = None if dataset is None else translated_old_link(query, dataset.y_val)
    if translated is None:
        if dataset is not None:
            shown = plain(query["image"], most=links.LINK_TEXT_SHOWN)
            st.info(f"The link's image ({shown}) is not among this server's validation images; choose one below.")
        translated = {name: text for name, text in query.items() if name not in OLD_LINK}
    st.query_params.from_dict(translated)
