"""A model file deleted or archived while a page shows it (review F8): the chooser says so in one sentence, the page
does not fail with FileNotFoundError."""

from streamlit.testing.v1 import AppTest

from helpers import assert_one_sentence


def version_page(path):
    import streamlit as st

    from app_pages.choosers import pinned_version
    from vgg.core.errors import UserError

    try:
        st.write(f"version {pinned_version('model', path)}")
    except UserError as error:
        st.error(str(error))


def test_a_model_file_that_vanished_is_named_in_one_sentence(tmp_path):
    model = tmp_path / "runs" / "r" / "checkpoint.keras"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"PK")
    app = AppTest.from_function(version_page, args=(str(model),), default_timeout=60).run()
    assert not app.exception and app.markdown[0].value.startswith("version ")

    model.unlink()  # The teacher deleted the run while this session looked at it.
    app.run()
    assert not app.exception, app.exception
    assert_one_sentence(app.error[0].value, naming="checkpoint.keras")
