"""The private Streamlit function app_pages/streamlit_patches.py replaces: if a Streamlit release removes or
renames it, the app's `hasattr` check would silently stop skipping the reset after every script run; this test
says so instead."""

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
