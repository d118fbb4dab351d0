"""A minimal Streamlit client speaking the browser's own protocol, for measuring what the server gives many
sessions at once without a browser each on the server's cores: it opens the app's websocket, asks for a page by
its link (as a browser's first load does), reads every message until the script run ends, and downloads each
picture the page names, as a browser would.

What it cannot tell is how long a browser takes to draw what it received; `first_views.py` measures that with one
Chromium alone.
"""

import asyncio
import dataclasses
import time
import urllib.parse
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

SUCCESS = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
RERUN = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
TIMEOUT = 300  # Seconds for one session's page; a first view that computes can take a minute on 2 cores.


@dataclasses.dataclass
class Delivery:
    seconds: float  # From the request to the script's end with every picture downloaded.
    script_seconds: float  # From the request to the script's successful end.
    messages: int
    pictures: int
    texts: list  # Every markdown, caption, alert and progress text the page sent.


def texts_of(delta):
    """The words a delta puts on the page (markdown, captions, alerts, progress bars), for finding a line."""
    element = delta.new_element
    kind = element.WhichOneof("type")
    if kind == "markdown":
        return [element.markdown.body]
    if kind == "alert":
        return [element.alert.body]
    if kind == "progress":
        return [element.progress.text]
    return []


def picture_urls(delta):
    """The server's addresses of a delta's pictures (st.image sends each as a media file the browser fetches)."""
    element = delta.new_element
    if element.WhichOneof("type") != "imgs":
        return []
    return [image.url for image in element.imgs.imgs if image.url.startswith("/")]


def fetch(base, url):
    with urllib.request.urlopen(base + url, timeout=TIMEOUT) as response:
        return len(response.read())


async def open_page(base, link):
    """The Delivery of one new session asking for `link` (an address of the app at `base`)."""
    parts = urllib.parse.urlsplit(link)
    state = BackMsg()
    state.rerun_script.query_string = parts.query
    state.rerun_script.page_name = parts.path.strip("/")
    socket_url = base.replace("http", "ws", 1) + "/_stcore/stream"
    started = time.perf_counter()
    messages, urls, texts = 0, [], []
    async with websockets.connect(
        socket_url, subprotocols=["streamlit"], origin=base, max_size=None, open_timeout=TIMEOUT
    ) as socket:
        await socket.send(state.SerializeToString())
        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(socket.recv(), TIMEOUT))
            messages += 1
            kind = message.WhichOneof("type")
            if kind == "delta":
                urls += picture_urls(message.delta)
                texts += texts_of(message.delta)
            elif kind == "script_finished" and message.script_finished == SUCCESS:
                break
        script_seconds = time.perf_counter() - started
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, fetch, base, url) for url in urls))
    return Delivery(time.perf_counter() - started, script_seconds, messages, len(urls), texts)


def open_at_once(base, link, sessions):
    """[Delivery] of `sessions` new sessions asking for `link` together."""

    async def together():
        return await asyncio.gather(*(open_page(base, link) for _ in range(sessions)))

    return asyncio.run(together())
