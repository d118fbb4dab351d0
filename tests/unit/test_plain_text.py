"""What Streamlit 1.67 draws from text that the Markdown escapes alone do not stop, as checked in Chromium
(tests/app/test_text_stays_text.py checks the pages): `:material/…:` is read before the escapes, and bare
addresses and `:streamlit:` after them, in the text itself."""

from app_pages.plain import WORD_JOINER, plain, plain_html


def test_directives_read_before_or_after_the_escapes_are_broken():
    assert ":material/" not in plain(":material/home:")
    assert ":streamlit:" not in plain(":streamlit:").replace("\\", "")
    for address in ("http://x.example", "https://x.example", "www.x.example", "ada@x.example"):
        assert WORD_JOINER in plain(address), address


def test_sentences_read_the_same_and_line_starts_are_escaped():
    assert plain("The class's limit is 2 min. Received: run='a (b)', 12:30") == (
        "The class's limit is 2 min. Received: run='a (b)', 12\\:30"
    )
    assert plain("Bob\n\n# Lesson over") == "Bob # Lesson over"
    assert [plain(start) for start in ("# H", "1. one", "- d", "> q")] == ["\\# H", "1\\. one", "\\- d", "\\> q"]
    assert plain("x" * 100, most=10) == "x" * 9 + "…"


def test_plotly_text_draws_no_html_and_fills_in_no_template():
    assert plain_html("<a href='http://x'>%{y}</a>") == "&lt;a href='http://x'&gt;&#37;{y}&lt;/a&gt;"
