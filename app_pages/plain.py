"""Text from people and links (names, run titles, tasks, file names, a link's values) shown as exactly that text:
Streamlit draws Markdown, colour and icon directives and LaTeX in almost every text element and widget label, and
Plotly draws a subset of HTML in legends and titles, so such text goes through here first."""

import html
import re

# A backslash before any of these draws the character itself (CommonMark's escapes): emphasis, code, links and
# images, autolinks (`<http://…>`), `$` formulas and strikethrough. Punctuation that makes nothing mid-line (`'`,
# `.`, `,`, `(`) is left alone, so sentences read the same to a test as to a person.
_INLINE = re.compile(r"([\\`*_\[\]<$~])")
# A heading, quote, list or rule starts only at the start of a line, and `plain` makes one line.
_LINE_START = re.compile(r"^(\s*)([#>+\-=|])|^(\s*\d+)([.)])")
# Streamlit's `:red[…]`, `:smile:` and `:material/home:` begin with a colon before a word (`:material/` is read
# before the escapes, so its slash goes too); an entity (`&#58;`) would be read as the character it names.
_DIRECTIVE = re.compile(r":(?=[\w+\-/])|(?<=material)/|(?<=streamlit)/|&(?=#?\w+;)")
_SHORTCODE_END = re.compile(r"(\\:[\w+\-]+):")
# Bare addresses become links, and `:streamlit:` the Streamlit logo, after the escapes are read (in the text itself),
# so a word joiner, which is drawn as nothing, breaks them: before `://`, `.` after `www`, `@`, and in the shortcode.
_TEXT_RULES = re.compile(r"(?i)(?<=https)(?=\\:)|(?<=http)(?=\\:)|(?<=www)(?=\.)|(?=@)|(?<=\\:)(?=streamlit)")
WORD_JOINER = "\u2060"


def plain(text, most=None):
    """`text` (any object, as str) for st.markdown, st.info, st.caption, widget labels and the like: drawn as the
    same characters on one line, never as markup; cut to `most` characters and an ellipsis when longer."""
    one_line = " ".join(str(text).split())  # A newline could start a heading, a list or a paragraph.
    if most is not None and len(one_line) > most:
        one_line = one_line[: most - 1] + "…"
    escaped = _DIRECTIVE.sub(lambda match: "\\" + match[0], _INLINE.sub(r"\\\1", one_line))
    escaped = _SHORTCODE_END.sub(r"\1\\:", escaped)
    escaped = _LINE_START.sub(_line_start, escaped)
    return _TEXT_RULES.sub(WORD_JOINER, escaped)


def _line_start(match):
    """The escaped marker that would start a heading, quote, list or rule."""
    lead, marker = (match[1], match[2]) if match[2] else (match[3], match[4])
    return f"{lead}\\{marker}"


def whole_number(text, most=999_999):
    """The whole number from 0 to `most` that `text` spells in digits, else None: `"²".isdigit()` holds and
    Python refuses to read more than 4,300 digits, so neither is trusted."""
    text = text.strip()
    if not text.isdecimal() or len(text) > len(str(most)):
        return None
    number = int(text)
    return number if number <= most else None


def plain_html(text):
    """`text` for Plotly's legends, axis labels and hover templates, which draw <b>, <a href> and the like and fill
    in `%{...}`: Plotly reads the entities back as the characters."""
    return html.escape(str(text), quote=False).replace("%", "&#37;")
