"""The private Streamlit parts the app relies on: the function app_pages/streamlit_patches.py replaces (if a
release removes or renames it, the app's `hasattr` check would silently stop skipping the reset after every script
run) and the browser cookie class mode counts runs by; these tests say so instead."""

import inspect

from streamlit.runtime.scriptrunner import script_runner


def test_the_reset_that_streamlit_app_skips_is_still_streamlits_clean_problem_modules():
    assert callable(getattr(script_runner, "_clean_problem_modules", None)), (
        "streamlit.runtime.scriptrunner.script_runner._clean_problem_modules is gone: "
        "update app_pages/streamlit_patches.py"
    )
    # Called through the module's global, so replacing the module attribute replaces the call.
    source = inspect.getsource(script_runner)
    calls = source.count("_clean_problem_modules") - source.count("def _clean_problem_modules")
    assert calls >= 1, "script_runner no longer calls _clean_problem_modules by its module name"


def test_the_browser_cookie_class_mode_counts_by_is_still_streamlits_xsrf_token():
    from streamlit.web.server.starlette import starlette_app_utils, starlette_server_config

    from app_pages.class_ui import BROWSER_COOKIE

    # app_pages/class_ui.py counts a student's runs by this cookie's raw token, which each response masks anew.
    assert starlette_server_config.XSRF_COOKIE_NAME == BROWSER_COOKIE
    token = bytes(range(16))
    first, second = (starlette_app_utils.generate_xsrf_token_string(token) for _ in range(2))
    assert first != second
    assert starlette_app_utils.decode_xsrf_token_string(first)[0] == token
    assert starlette_app_utils.decode_xsrf_token_string(second)[0] == token
