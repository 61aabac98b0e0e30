"""Body text and attachments from the MIME tree, in bounded time.

Text parts are decoded with their charset (or UTF-8 when it is unknown, broken
or a slow pure-Python codec); plain text is preferred, HTML is converted, and
HTML hostile to html2text is reduced by a linear tag stripper instead.
"""

from __future__ import annotations

import codecs
import html as htmllib
import re
from email.message import EmailMessage, MIMEPart

import html2text

from mailgate.message.attachments import Attachment, safe_filename
from mailgate.message.bounded import MAX_DEPTH, MAX_PARTS, ParseError
from mailgate.message.headers import header, message_ids
from mailgate.message.text import _NEWLINES, _body_text, superset, utf8_or_mislabelled

MAX_TEXT_CHARS = 1_000_000
MAX_HTML_CHARS = 150_000  # html2text beyond this is slow: strip tags instead
MAX_HTML_NESTING = 32  # nested lists/quotes make html2text's output quadratic

_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_SLOW_CODECS = frozenset({"punycode", "idna"})  # pure Python, quadratic on long input
_HTML_NEST = re.compile(r"<(/?)(ul|ol|dl|blockquote|table)\b", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]{0,20})?[^<>]{0,4000}>")  # linear, no <!--
_HTML_BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                         "table", "ul", "ol", "blockquote", "pre", "hr", "dt", "dd"})


def _strip_tags(html: str) -> str:
    """Linear-time HTML to text: tags dropped (block tags become line breaks)."""
    out: list[str] = []
    pos = 0
    skip = None  # inside <script>/<style>
    for match in _HTML_TAG.finditer(html):
        if skip is None:
            out.append(html[pos:match.start()])
        pos = match.end()
        closing, tag = match.group(1), (match.group(2) or "").lower()
        if skip is not None:
            if closing and tag == skip:
                skip = None
            continue
        if tag in ("script", "style") and not closing:
            skip = tag
        elif tag in _HTML_BLOCK:
            out.append("\n")
    if skip is None:
        out.append(html[pos:])
    text = htmllib.unescape("".join(out)).replace("\xa0", " ")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n\n\n+", "\n\n", "\n".join(lines)).strip()  # see quotes._BLANK_LINES


def _html_nesting(html: str) -> int:
    depth = deepest = 0
    for match in _HTML_NEST.finditer(html):
        depth = max(depth - 1, 0) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    return deepest


def html_to_text(html: str, budget: int = MAX_HTML_CHARS) -> str:
    """Readable text from HTML: html2text, or a linear tag stripper for hostile HTML.

    html2text costs a few microseconds per character and its output grows
    quadratically with list/quote nesting; HTML longer than ``budget`` or
    nested deeper than ``MAX_HTML_NESTING`` is stripped of its tags instead.
    """
    if len(html) > budget or _html_nesting(html) > MAX_HTML_NESTING:
        return _strip_tags(html[:MAX_TEXT_CHARS])
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.unicode_snob = True
    # text as its writer saw it: no Markdown "**bold**" or "_italic_" in what an engineer's
    # HTML answer becomes for the customer, nor around the field names of a quoted header
    converter.ignore_emphasis = True
    return converter.handle(html).strip()


def _charset(part: MIMEPart) -> str | None:
    """The part's charset as a usable codec name, or None (unknown, broken or too slow)."""
    try:
        codec = superset(part.get_content_charset())
    except Exception:
        return None
    if codec is None or codec in _SLOW_CODECS or codec == "ascii":  # ascii: 8-bit is UTF-8
        return None
    return codec


#: the single-byte Windows supersets (``text.SUPERSETS``), which leave five bytes undefined
_WINDOWS = frozenset({"cp1252", "cp1254"})
codecs.register_error("mailgate-latin1", lambda error: (
    error.object[error.start:error.end].decode("latin-1"), error.end)
    if isinstance(error, UnicodeDecodeError) else codecs.strict_errors(error))


def _decoded(part: MIMEPart) -> str:
    """A text part's content: declared charset, else UTF-8, else Windows-1252 (see
    ``utf8_or_mislabelled``); never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        payload = str(part.get_payload() or "").encode("utf-8", "surrogateescape")
    payload = payload[:4 * MAX_TEXT_CHARS]
    charset = _charset(part)
    text = None
    if charset == "utf-8":
        text = utf8_or_mislabelled(payload)
    elif charset is not None:
        try:
            text = payload.decode(charset, "replace")
        except Exception:
            text = None
        if charset in _WINDOWS and text is not None and "\ufffd" in text:
            # the five bytes Windows-1252 leaves undefined are Latin-1's, as WHATWG says
            text = payload.decode(charset, "mailgate-latin1")
    if text is None:
        text = utf8_or_mislabelled(payload)
    return _body_text(_NEWLINES.sub("\n", text[:MAX_TEXT_CHARS]))


def _content_type(part: MIMEPart) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    return ctype if _CONTENT_TYPE.match(ctype) else "application/octet-stream"


def _walk(msg: EmailMessage) -> tuple[str, list[Attachment]]:
    """The body text (plain preferred, HTML converted) and the attachments."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    count = 0

    def visit(part: MIMEPart, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_PARTS:
            raise ParseError(f"more than {MAX_PARTS} MIME parts")
        if depth > MAX_DEPTH:
            raise ParseError(f"MIME nesting deeper than {MAX_DEPTH}")
        if part.is_multipart():
            for sub in part.iter_parts():
                visit(sub, depth + 1)
            return
        ctype = _content_type(part)
        disposition = part.get_content_disposition()
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            try:
                payload = part.get_payload(decode=True)  # bytes: the part is not multipart
                data = payload if isinstance(payload, bytes) else b""
            except Exception:
                data = str(part.get_payload()).encode("utf-8", "surrogateescape")
            name = safe_filename(filename or f"part-{count}")
            cid = message_ids(header(part, "Content-ID"))  # type: ignore[arg-type]
            inline = disposition == "inline" or (disposition is None and bool(cid))
            attachments.append(Attachment(name, ctype, data, cid[0] if cid else None, inline))
        elif ctype == "text/html":
            html.append(_decoded(part))
        else:
            plain.append(_decoded(part))

    visit(msg, 0)
    if plain:
        text = "\n\n".join(p.strip("\n") for p in plain)
    else:
        converted, budget = [], MAX_HTML_CHARS  # html2text's share over all HTML parts
        for part_html in html:
            converted.append(html_to_text(part_html, budget))
            budget -= len(part_html)
        text = "\n\n".join(converted)
    return _NEWLINES.sub("\n", text)[:MAX_TEXT_CHARS], attachments
