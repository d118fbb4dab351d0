"""What the benchmark and the browser tests share to start the app and a headless Chromium here."""

import shutil
import socket

# Debian's chromium: Playwright cannot download its own browser on this machine.
CHROMIUM = shutil.which("chromium")
# Flags that keep Chromium working in a container and from reaching for the network, which is closed here.
CHROMIUM_ARGUMENTS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--no-first-run"]


def free_port():
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
