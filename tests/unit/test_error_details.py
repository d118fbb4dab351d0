"""Students never see an unexpected error's message or traceback (server paths, code): the project's Streamlit
settings say so in the value Streamlit 1.67 reads that way, and the README's commands do not undo it."""

import re
import tomllib

from streamlit import config
from streamlit.elements.exception import _error_detail_visibility

from helpers import PROJECT_ROOT


def test_the_servers_settings_hide_an_errors_message_type_and_traceback(monkeypatch):
    settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    value = settings["client"]["showErrorDetails"]
    monkeypatch.setattr(config, "get_option", lambda key: value if key == "client.showErrorDetails" else None)
    assert _error_detail_visibility(apply_show_error_details=True) == (False, False, False)


def test_the_readmes_commands_do_not_override_it():
    """A command-line flag wins over config.toml, and `false` means "stacktrace"."""
    commands = re.findall(r"^.*streamlit run.*$", (PROJECT_ROOT / "README.md").read_text(), flags=re.MULTILINE)
    assert commands and not [command for command in commands if "showErrorDetails" in command]
