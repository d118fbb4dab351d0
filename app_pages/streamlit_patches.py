"""What the app changes in Streamlit's server, once per process: no Keras reset after each script run, and each
browser session's uploads capped by count and bytes (vgg.data.uploads.session_refusal).

Streamlit keeps every uploaded file in the server's memory until the browser removes it or the session ends, and
offers no cap of its own: its upload manager's add_file is wrapped to refuse the upload that would go past the
cap, and the page says why in one sentence.
"""

import threading

from starlette.exceptions import HTTPException
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import script_runner

from vgg.data.uploads import session_refusal


def patch_streamlit():
    """Every change below, as the server starts (streamlit_app.py)."""
    skip_keras_reset()
    limit_uploads()


def skip_keras_reset():
    """After every script run, a live view's 2-second redraw included, Streamlit resets Keras for scripts that
    build their models anew each run: a full garbage collection and TensorFlow's kernel cache, about 130 ms with a
    model loaded, for every watching session (BENCHMARKS.md, the classroom row), and a wait for TensorFlow while an
    analysis runs. This app's models live in caches across runs, so the reset is skipped."""
    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None


_adding = threading.Lock()  # A check and its add as one step: a browser sends several files at once.
# {session id: the sentence refusing its last upload}: the browser shows only "status code 413" beside the file,
# so the page says why (refusal_for), until the session removes a file or adds one.
_refusals = {}


def held(manager, session_id, replaced):
    """(files, bytes) that `manager` holds for `session_id`, leaving out file id `replaced` (a file sent again)."""
    with manager._lock:
        files = [file for file_id, file in manager.file_storage.get(session_id, {}).items() if file_id != replaced]
    return len(files), sum(len(file.data) for file in files)


def refusal_for(session_id):
    """The sentence refusing this session's last upload, or None when none was refused since it last changed."""
    return _refusals.get(session_id)


def limit_uploads():
    """Wraps MemoryUploadedFileManager's add_file, once per process, to refuse an upload past the session's cap
    with HTTP 413 and the sentence saying why, and its remove_file to forget that sentence."""
    add_file, remove_file = MemoryUploadedFileManager.add_file, MemoryUploadedFileManager.remove_file
    if getattr(add_file, "limited", False):
        return

    def limited_add_file(self, session_id, file):
        with _adding:
            refusal = session_refusal(*held(self, session_id, file.file_id), len(file.data))
            if refusal:
                _refusals[session_id] = refusal
                raise HTTPException(status_code=413, detail=refusal)
            add_file(self, session_id, file)
            _refusals.pop(session_id, None)

    def forgetting_remove_file(self, session_id, file_id):
        remove_file(self, session_id, file_id)
        _refusals.pop(session_id, None)

    limited_add_file.limited = True
    MemoryUploadedFileManager.add_file = limited_add_file
    MemoryUploadedFileManager.remove_file = forgetting_remove_file
