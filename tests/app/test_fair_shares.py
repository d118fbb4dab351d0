"""What one client cannot take from the others on a shared server: a second queue pump by clearing the caches
(review F14), and the server's memory by uploading without end (F4)."""

import hashlib
import threading

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from helpers import PROJECT_ROOT, png_bytes, texts


def pumps():
    return sum(thread.name == "vgg-queue-pump" and thread.is_alive() for thread in threading.enumerate())


def test_clearing_the_caches_starts_no_second_queue_pump(data_environment):
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120).run()
    assert not app.exception
    before = pumps()
    assert before >= 1
    # Any client may send Streamlit's "clear caches"; the runs must still be started by one pump per folder.
    st.cache_resource.clear()
    st.cache_data.clear()
    app.run()
    assert not app.exception
    assert pumps() == before


def test_a_browsers_uploads_are_capped_by_count_and_bytes_on_the_server():
    from starlette.exceptions import HTTPException
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from app_pages.streamlit_patches import limit_uploads, refusal_for
    from vgg.data.uploads import SESSION_BYTES, SESSION_FILES

    limit_uploads()
    manager = MemoryUploadedFileManager("/upload")

    def send(session, file_id, size=10):
        manager.add_file(session, UploadedFileRec(file_id, f"{file_id}.jpg", "image/jpeg", b"x" * size))

    for number in range(SESSION_FILES):
        send("ada", f"photo{number}")
    with pytest.raises(HTTPException) as refused:
        send("ada", "one too many")
    assert refused.value.status_code == 413
    assert refused.value.detail.startswith(f"The server keeps at most {SESSION_FILES} files")
    assert refused.value.detail.count(". ") == 0 and refused.value.detail.endswith(".")  # One sentence.
    assert len(manager.get_files("ada", ["one too many"])) == 0
    assert refusal_for("ada") == refused.value.detail  # What Predict then says under the uploader.
    send("ada", "photo0", size=20)  # The same file sent again replaces itself: no room needed.
    manager.remove_file("ada", "photo1")  # Removing one (its x) makes room for another.
    assert refusal_for("ada") is None
    send("ada", "another")
    # Another browser has its own share, in bytes as in files.
    send("ben", "large", size=SESSION_BYTES - 10)
    send("ben", "small", size=10)
    with pytest.raises(HTTPException):
        send("ben", "one byte", size=1)


def test_no_more_than_two_uploads_decode_at_once(monkeypatch):
    from vgg.data import uploads

    photos = [
        png_bytes(np.random.default_rng(seed).integers(0, 256, (1200, 1200, 3), dtype=np.uint8)) for seed in range(4)
    ]
    decoding, most = [0], [0]
    lock = threading.Lock()
    decode = uploads.decode_image

    def watched_decode(data, filename):
        with lock:
            decoding[0] += 1
            most[0] = max(most[0], decoding[0])
        try:
            return decode(data, filename)
        finally:
            with lock:
                decoding[0] -= 1

    monkeypatch.setattr(uploads, "decode_image", watched_decode)
    start = threading.Barrier(len(photos))
    results = []

    def student(photo):
        start.wait()
        results.append(uploads.load_upload(photo, "photo.png")[1])

    threads = [threading.Thread(target=student, args=(photo,)) for photo in photos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(pixels.shape == (32, 32, 3) for pixels in results)
    assert most[0] == 2


def test_a_rerun_neither_decodes_nor_hashes_an_upload_again(data_environment, monkeypatch):
    photo = png_bytes(np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), dtype=np.uint8))
    hashed = []
    sha256 = hashlib.sha256

    def watched_sha256(data=b"", **options):
        if len(data) >= len(photo):
            hashed.append(len(data))
        return sha256(data, **options)

    # The image chooser of Inside VGG16, which reads an upload as Predict does (app_pages/choosers.py).
    script = "from app_pages.choosers import image_choice_ui\nimport streamlit as st\nst.write(image_choice_ui('x'))"
    app = AppTest.from_string(script, default_timeout=60).run()
    app.radio(key="x_source").set_value("Upload").run()
    app.get("file_uploader")[0].set_value([("big photo.png", photo, "image/png")]).run()
    assert not app.exception, app.exception
    assert "big photo.png" in texts(app)
    monkeypatch.setattr(hashlib, "sha256", watched_sha256)
    app.run()
    app.run()
    assert not app.exception, app.exception
    assert "big photo.png" in texts(app)
    assert hashed == []
