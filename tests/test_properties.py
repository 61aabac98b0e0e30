"""Property-based tests (hypothesis) of subject tags, header parsing and outgoing headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mailgate.compose import compose, compose_email_api
from mailgate.message import (
    Inbound,
    ParseError,
    _HeaderCache,  # the decoder's fast path
    parse,
    plausible_address,
)
from mailgate.refs import TagFormat, normalize_subject, reply_subject

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FORMATS = st.sampled_from([TagFormat(), TagFormat("HD", 4), TagFormat("X.Y", 1),
                           TagFormat("Sup", 8)])
NUMBERS = st.integers(min_value=1, max_value=10**12 - 1)  # tickets start at 1; a tag of 0
# cites nothing (tests/test_identity.py)
PREFIXES = ["Re", "RE", "re", "AW", "Aw", "SV", "Sv", "VS", "Antw", "ANTW", "Antwort", "Odp",
            "Rif", "R", "Res", "Enc", "TR", "WG", "FW", "Fw", "Fwd", "FWD", "VB", "Doorst",
            "Ответ", "ОТВЕТ", "Отв", "Пересл", "FS", "VL"]
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def reply_stack(draw: st.DrawFn) -> str:
    """``Re: AW[2]: Ответ : Fwd:`` and the like: any prefixes, counters, colons and spacing."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        prefix = draw(st.sampled_from(PREFIXES))
        counter = draw(st.sampled_from(["", "[2]", "^3", "(12)"]))
        colon = draw(st.sampled_from([":", "："]))
        parts.append(prefix + draw(SPACE) + counter + colon + draw(SPACE))
    return "".join(parts)


@st.composite
def tag_variant(draw: st.DrawFn, tags: TagFormat, number: int) -> str:
    """The tag as clients and people mangle it: case, spaces, separator, zeros dropped/added."""
    prefix = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in tags.prefix)
    digits = draw(st.sampled_from([str(number), f"{number:0{tags.width}d}",
                                   "00" + str(number)]))
    assume(len(digits.lstrip("0")) <= 12)
    separator = draw(st.sampled_from(["-", "#", "_", ":", ""]))
    return (f"[{draw(SPACE)}{prefix}{draw(SPACE)}{separator}{draw(SPACE)}{digits}"
            f"{draw(SPACE)}]")


# -- refs ------------------------------------------------------------------------------


@SETTINGS
@given(tags=FORMATS, number=NUMBERS, data=st.data(), stack=reply_stack(),
       before=st.sampled_from(["", "VPN ", "Printer (2nd floor) "]),
       after=st.text(alphabet=st.characters(blacklist_characters="[]"), max_size=40))
def test_tag_found_behind_any_prefix_stack(tags: TagFormat, number: int, data: st.DataObject,
                                           stack: str, before: str, after: str) -> None:
    """A reply keeps its ticket whatever prefixes, case, spacing or zeros its client added."""
    tag = data.draw(tag_variant(tags, number))
    assert tags.find_numbers(f"{stack}{before}{tag} {after}")[:1] == [number]


@SETTINGS
@given(tags=FORMATS, number=NUMBERS, stack=reply_stack(), upper=st.booleans(),
       after=st.text(max_size=40))
def test_bare_full_reference_found_and_nothing_looser(tags: TagFormat, number: int,
                                                      stack: str, upper: bool,
                                                      after: str) -> None:
    """A customer's fresh mail naming "SUP-000001" without brackets names that ticket (the
    thread step then asks whether the sender is one of its people); "SUP-1" does not."""
    reference = tags.reference(number)
    written = reference.upper() if upper else reference.lower()
    assert tags.find_bare_numbers(f"{stack}{written} {after}")[:1] == [number]
    assert tags.find_bare_numbers(f"{stack}X{written} {after}")[:1] != [number]
    if len(str(number)) < tags.width:
        assert tags.find_bare_numbers(f"{stack}{tags.prefix}-{number} {after}")[:1] != [number]


@SETTINGS
@given(tags=FORMATS, subject=st.text())
@example(tags=TagFormat(), subject="[" * 10_000 + "SUP" + " " * 10_000)
@example(tags=TagFormat(), subject="[SUP-" + "0" * 50_000 + "1]")
def test_find_numbers_never_raises(tags: TagFormat, subject: str) -> None:
    """Any subject text at all is searched for tags without an error."""
    found = tags.find_numbers(subject)
    assert len(found) <= 10 and all(0 <= n < 10**12 for n in found)


@SETTINGS
@given(tags=FORMATS, number=NUMBERS, subject=st.text())
@example(tags=TagFormat(), number=7, subject="[SUP[SUP-1]-2] Re: [sup 3]")
@example(tags=TagFormat(), number=7, subject="Re: Re: [SUP-000001] AW:")
def test_tagged_subject_round_trips(tags: TagFormat, number: int, subject: str) -> None:
    """The subject we send always carries our ticket's tag first, whatever the customer wrote."""
    tagged = tags.tagged_subject(number, subject)
    assert tags.find_numbers(tagged)[0] == number
    assert tagged.startswith(tags.tag(number))


@SETTINGS
@given(subject=st.one_of(st.text(), st.builds(lambda s, t: s + t, reply_stack(), st.text())))
@example(subject="Re: Re:Re : AW:")
@example(subject="Re:\u2028Re: x")
def test_normalize_subject_is_idempotent(subject: str) -> None:
    """Normalising a subject twice changes nothing more than normalising it once."""
    once = normalize_subject(subject)
    assert normalize_subject(once) == once


@SETTINGS
@given(stack=reply_stack(), rest=st.text(min_size=1))
@example(stack="Re: Re: ", rest="[SUP-000017] Kein Zugriff")
def test_an_answer_subject_has_one_re(stack: str, rest: str) -> None:
    """What mailgate answers an engineer's "Re: Re: [SUP-…] …" with (a command error, a
    relay notice) is titled "Re: [SUP-…] …": one "Re:", whatever the stack was."""
    answered = reply_subject(stack + rest)
    assert answered.startswith("Re: ") and not answered[4:].lower().startswith("re:")
    assert reply_subject(answered) == answered  # answering the answer adds nothing
    assert reply_subject("Re: Re: [SUP-000017] Kein Zugriff") == "Re: [SUP-000017] Kein Zugriff"


# -- message.parse ------------------------------------------------------------------------


def check_inbound(inbound: Inbound) -> None:
    """What the pipeline relies on, whatever the input was."""
    for text in (inbound.subject, inbound.from_addr, inbound.from_name or "", inbound.text,
                 inbound.message_id, *inbound.in_reply_to, *inbound.references,
                 *(n + a for n, a in [*inbound.to, *inbound.cc, *inbound.reply_to])):
        text.encode("utf-8")  # no lone surrogates: storable and loggable
        assert "\x00" not in text
    for text in (inbound.subject, inbound.from_name or "", inbound.message_id,
                 *(n for n, _ in [*inbound.to, *inbound.cc, *inbound.reply_to])):
        assert "\r" not in text and "\n" not in text
    assert inbound.from_addr == "" or plausible_address(inbound.from_addr)
    assert all(plausible_address(a) and "@" in a
               for _, a in [*inbound.to, *inbound.cc, *inbound.reply_to])
    assert inbound.message_id.startswith("<") and inbound.message_id.endswith(">")
    for attachment in inbound.attachments:
        assert "/" not in attachment.filename and "\\" not in attachment.filename


def parses_or_refuses(raw: bytes) -> None:
    try:
        inbound = parse(raw)
    except ParseError:
        return
    check_inbound(inbound)


@SETTINGS
@given(raw=st.binary(max_size=3000))
@example(raw=b"")
@example(raw=b"\r\n\r\n")
@example(raw=b"From: a@b.c (" + b"(" * 3000)
@example(raw=b"Date: Mon, 05 Jan 99999999999999999999 09:30:00 +0000\r\n\r\n")
@example(raw=b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n" * 40)
def test_parse_raises_only_parse_error_on_arbitrary_bytes(raw: bytes) -> None:
    """Any bytes at all give a ticket message or a ParseError (quarantine), nothing else."""
    parses_or_refuses(raw)


HEADER_NAMES = st.sampled_from([
    "From", "To", "Cc", "Reply-To", "Sender", "Subject", "Message-ID", "In-Reply-To",
    "References", "Date", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
    "MIME-Version", "Auto-Submitted", "Precedence", "List-Id", "Return-Path", "X-Priority",
    "Importance", "X-Mailgate-Loop", "Resent-From", "Bcc"])
VALUE_PIECES = st.sampled_from([
    "=?utf-8?q?", "=?utf-8?b?", "?=", "=0D=0A", "\"", "\\", "(", ")", "<", ">", "@", ",", ";",
    ":", "[", "]", "\r\n ", "\t", "\x00", "\x7f", "\u202e", "é", "charset=", "boundary=",
    "multipart/mixed", "base64", "x@y.z", "punycode", "''", "*0*="])
VALUES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(VALUE_PIECES, st.text(max_size=5)), max_size=40).map("".join))


@SETTINGS
@given(headers=st.lists(st.tuples(HEADER_NAMES, VALUES), min_size=1, max_size=12),
       encoding=st.sampled_from(["utf-8", "latin-1"]),
       body=st.binary(max_size=300))
def test_parse_raises_only_parse_error_on_arbitrary_header_values(
        headers: list[tuple[str, str]], encoding: str, body: bytes) -> None:
    """Any value in any header (encoded-words, CR/LF, quotes, 8-bit) parses or is refused."""
    head = b"".join(name.encode() + b": " + value.encode(encoding, "replace") + b"\r\n"
                    for name, value in headers)
    parses_or_refuses(head + b"\r\n" + body)
    parses_or_refuses(head.replace(b"\r\n", b"\n") + b"\n" + body)


# -- compose -----------------------------------------------------------------------------

HEADER_TEXT = st.one_of(VALUES, st.text())


def composed(subject: str, from_name: str | None, names: list[str | None],
             in_reply_to: str | None = "<c@example.org>",
             references: tuple[str, ...] = ("<c@example.org>",)) -> tuple[bytes, list[str]]:
    to = [(name, f"person{i}@example.org") for i, name in enumerate(names)]
    raw = compose(from_addr="support@example.com", from_name=from_name, to=to,
                  subject=subject, text="Thank you.", html=None, message_id="<m@example.com>",
                  date=datetime(2026, 1, 5, 9, 30, tzinfo=UTC), loop_id="support@example.com",
                  in_reply_to=in_reply_to, references=references,
                  reply_to="support@example.com")
    return raw, [a for _, a in to]


EXPECTED = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
            "References", "Auto-Submitted", "X-Auto-Response-Suppress", "X-Mailgate-Loop",
            "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]


@SETTINGS
@given(subject=HEADER_TEXT, from_name=st.one_of(st.none(), HEADER_TEXT),
       names=st.lists(st.one_of(st.none(), HEADER_TEXT), min_size=1, max_size=3))
@example(subject="hi\r\nBcc: victim@evil.example", from_name="x\nBcc: a@b", names=["y\rTo: c@d"])
@example(subject="=?utf-8?q?a=0D=0ABcc:_x@y?=", from_name="=?utf-8?q?N=0D=0AX-Name:_1?=",
         names=["\u2028Bcc: e@f", "=?utf-8?b?VA0KWC1UbzogMQ==?="])
def test_compose_adds_no_header(subject: str, from_name: str | None,
                                names: list[str | None]) -> None:
    """Whatever subject and display names customers use, our mail has exactly our headers."""
    raw, _ = composed(subject, from_name, names)
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg.keys() == EXPECTED
    assert [a.addr_spec for a in msg["From"].addresses] == ["support@example.com"]
    assert len(msg.get_all("To")) == 1 and len(msg.get_all("Subject")) == 1


def test_compose_keeps_every_recipient_in_to() -> None:
    """Every recipient of our mail is listed in its To header, whatever their names."""
    raw, addresses = composed("", None, ["0", "000¡¡", None])
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert [a.addr_spec for a in msg["To"].addresses] == addresses


def test_header_text_from_customers_is_defanged() -> None:
    """Subjects and Message-IDs that decode to encoded-words reach compose defanged."""
    inbound = parse(b"From: a@b.example\r\nSubject: =?utf-8?q?=3D=3Futf-8=3Fq=3Fa=3D0D=3D0A"
                    b"Bcc=3A_x=40y=3F=3D?=\r\nMessage-ID: <=?utf-8?q?a=0D=0ABcc:_x@y?=@evil>\r\n"
                    b"References: <ok@x> <=?utf-8?q?=0D=0AX:_1?=>\r\n\r\nhi\r\n")
    assert "=?" not in inbound.subject and inbound.references == ["<ok@x>"]
    assert inbound.message_id_generated
    raw, _ = composed(inbound.subject, None, [None], inbound.message_id,
                      tuple(inbound.references))
    assert BytesParser(policy=policy.default).parsebytes(raw).keys() == EXPECTED


def test_compose_refuses_encoded_words_in_message_ids() -> None:
    """An encoded-word hidden in a Message-ID we reply to cannot add a header to our mail."""
    raw, _ = composed("ok", None, [None], "<=?utf-8?q?a=0D=0ABcc:_x@y?=@evil>",
                      ("<=?utf-8?q?=0D=0AX-I:_1?=>",))
    keys = BytesParser(policy=policy.default).parsebytes(raw).keys()
    assert keys == [k for k in EXPECTED if k not in ("In-Reply-To", "References")]


def _reading(raw: bytes) -> tuple[list[tuple[str, str]], str, str | None]:
    """What a mail client shows: decoded headers (but the transfer encoding), text, HTML."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    shown = [(k, str(v).strip()) for k, v in msg.items()
             if k not in ("Content-Transfer-Encoding", "Content-Type")]
    html = msg.get_body(("html",))
    return (shown, msg.get_body(("plain",)).get_content(),
            html.get_content() if html is not None else None)


@SETTINGS
@given(subject=HEADER_TEXT, from_name=st.one_of(st.none(), HEADER_TEXT),
       names=st.lists(st.one_of(st.none(), HEADER_TEXT), min_size=1, max_size=3),
       text=st.text(max_size=2000), html=st.one_of(st.none(), st.text(max_size=300)))
@example(subject="x" * 990, from_name="ü" * 199, names=["Smith, John", 'a "b" \\ c'],
         text="a" * 1200 + "\nÅsa\n. dot\nFrom here\n", html="<p>Hej</p>")
def test_fast_compose_reads_like_the_email_api(subject: str, from_name: str | None,
                                               names: list[str | None], text: str,
                                               html: str | None) -> None:
    """The fast writer's mail reads, header by header and in its body, as the same mail
    built by ``EmailMessage`` does; no line is longer than RFC 5322's 998."""
    assume(all(len((n or "").encode()) <= 600 for n in [from_name, *names]))  # one word each
    to = [(name, f"person{i}@example.org") for i, name in enumerate(names)]
    args = dict(from_addr="support@example.com", from_name=from_name, to=to, subject=subject,
                text=text, html=html, message_id="<m@example.com>",
                date=datetime(2026, 1, 5, 9, 30, tzinfo=UTC), loop_id="support@example.com",
                in_reply_to="<c@example.org>", references=("<c@example.org>",),
                reply_to="support@example.com")
    fast = compose(**args)
    assert max(len(line) for line in fast.split(b"\r\n")) <= 998
    assert b"\n" not in fast.replace(b"\r\n", b"")
    assert _reading(fast) == _reading(compose_email_api(**args))


@SETTINGS
@given(name=st.sampled_from(["Subject", "Message-ID", "In-Reply-To", "References", "Date",
                             "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
                             "Content-Disposition", "Auto-Submitted", "X-Mailgate-Loop",
                             "Received", "List-Id", "Precedence", "DKIM-Signature",
                             "Authentication-Results", "X-Mailer", "Thread-Index"]),
       value=st.one_of(VALUES, st.text(alphabet=st.characters(min_codepoint=32,
                                                              max_codepoint=126)),
                       st.text(alphabet=st.characters(max_codepoint=127,
                                                      blacklist_characters="\r\n"))))
def test_undecoded_fields_read_as_the_registry_reads_them(name: str, value: str) -> None:
    """A field the decoder passes through without the header registry (the one speed trick
    on the stdlib's internals kept, see ``message/fastpath.py``: plain values, and ASCII
    values of unstructured fields, tabs, quotes and control characters included) reads as
    the registry reads it; where the stock registry itself fails on a value, the raw text
    is kept."""
    from email.headerregistry import HeaderRegistry
    from email.utils import parsedate_to_datetime

    def read(factory: Any) -> object:
        try:
            return str(factory(name, value))
        except Exception as exc:  # the stdlib's parser fails on some values ("<")
            return type(exc)

    ours, stock = read(_HeaderCache()), read(HeaderRegistry())
    if isinstance(stock, type):
        assert ours in (stock, value)
        return
    if name != "Date":
        assert ours == stock
        return

    def when(text: object) -> object:  # the Date field is read through parsedate_to_datetime
        try:
            return parsedate_to_datetime(str(text))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    assert when(ours) == when(stock)


@SETTINGS
@given(name=st.sampled_from(["From", "To", "Cc", "Reply-To", "Sender"]),
       display=st.one_of(  # plain names take the fast path, the rest the parser
           st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,8}( [A-Za-z0-9.'-]{1,8}){0,2}",
                         fullmatch=True),
           st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)),
       local=st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,20}", fullmatch=True),
       domain=st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z0-9-]{1,10}){1,2}", fullmatch=True))
def test_plain_mailboxes_read_as_the_address_parser_reads_them(
        name: str, display: str, local: str, domain: str) -> None:
    """An address field the decoder reads by its plain-mailbox pattern gives the stock
    address parser's addresses, whenever the stock parser reads it without defects."""
    from email.headerregistry import HeaderRegistry

    value = f"{display} <{local}@{domain}>" if display else f"{local}@{domain}"
    try:
        stock = HeaderRegistry()(name, value)
    except Exception:
        return
    if stock.defects:
        return
    ours = _HeaderCache()(name, value)
    assert [(a.display_name, a.addr_spec) for a in ours.addresses] == \
        [(a.display_name, a.addr_spec) for a in stock.addresses]


# -- quote stripping ---------------------------------------------------------------------

HISTORY_LINES = st.sampled_from([
    "On Mon, 3 Jun 2024 at 10:15, Anna <anna@example.org> wrote:", "On Monday Anna Berg",
    "<anna@example.org> wrote:", "Den 3 juni 2024 kl. 10:15 skrev Anna:", "Am 3. Juni schrieb",
    "From: Anna <anna@example.org>", "Sent: Monday 10:15", "To: support@example.com",
    "Subject: printer", "-----Original Message-----", "__________", "* * *", "> quoted",
    "> > deeper", "", "Thanks, it works now.", "The printer prints blank pages.", "-- ",
    "Sent from my iPhone", "Le 3 juin 2024 à 10:15, Anna a écrit :", "13:45 is when it broke",
    "от: Анна", "Пн, 3 июн. 2024 г. в 10:15, Анна <anna@example.org>:", "e-mail me at x@y",
])


@SETTINGS
@given(lines=st.lists(st.one_of(HISTORY_LINES, st.text(max_size=60)), max_size=30))
def test_quote_stripping_prefilter_changes_nothing(lines: list[str]) -> None:
    """Skipping lines that cannot start a history header gives the same new text as testing
    every line."""
    from mailgate import quotes

    text = "\n".join(lines)
    fast = quotes.new_text(text)
    everything = re.compile("")
    original, quotes._MAYBE_HEADER = quotes._MAYBE_HEADER, everything
    try:
        quotes._new_text.cache_clear()
        slow = quotes.new_text(text)
    finally:
        quotes._MAYBE_HEADER = original
        quotes._new_text.cache_clear()
    assert fast == slow


MAILBOXES = st.one_of(
    VALUES,
    st.builds(lambda n, lp, d: f"{n} <{lp}@{d}>" if n else f"{lp}@{d}",
              st.sampled_from(["", "Anna", "Anna Berg", "A. Berg", "Berg, Anna", "O'Neil",
                               "Anna  Berg", " Anna", "x=?y", "a@b", "Åsa"]),
              st.sampled_from(["anna", "anna.berg", "a+tag", ".anna", "an..na", "x_y-z",
                               "anna.", "\"quoted\""]),
              st.sampled_from(["example.org", "mail.example.co.uk", "localhost", "[10.0.0.1]",
                               "exa_mple.org", "-x.org"])),
)


@SETTINGS
@given(name=st.sampled_from(["From", "To", "Cc", "Reply-To", "Sender"]), value=MAILBOXES)
def test_plain_mailboxes_read_as_the_registry_reads_them(name: str, value: str) -> None:
    """An address field the decoder reads without the address parser gives the same text
    and the same (display name, address) pairs."""
    from email.headerregistry import HeaderRegistry

    def reading(factory: object) -> object:
        try:
            header = factory(name, value)  # type: ignore[operator]
        except Exception as exc:  # the same failure is the same reading
            return type(exc)
        return str(header), [(a.display_name, a.addr_spec) for a in header.addresses]

    assert reading(_HeaderCache()) == reading(HeaderRegistry())


PARAM_PIECES = st.sampled_from([
    "charset=utf-8", "charset=\"ISO-8859-1\"", "name=\"a b.pdf\"", "filename=report.pdf",
    "filename*=UTF-8''%C3%A9t%C3%A9.pdf", "filename*0=\"long\"", "filename*1=\"name.txt\"",
    "boundary=\"==b1==\"", "boundary=xyz", "x=\"a;b\"", "x=\"a\\\"b\"", "x=", "=y", ";", "",
    "\"", "(comment)", "format=flowed", "CHARSET=UTF-8", "Charset=latin1", "name*=''x"])


@SETTINGS
@given(ctype=st.sampled_from(["text/plain", "multipart/mixed", "application/pdf", "text",
                              "", "TEXT/HTML"]),
       ctype_params=st.lists(st.one_of(PARAM_PIECES, st.text(max_size=12)), max_size=6),
       disposition=st.sampled_from(["", "attachment", "inline", "Attachment"]),
       disposition_params=st.lists(PARAM_PIECES, max_size=4))
def test_mime_parameters_read_as_the_stock_message_reads_them(
        ctype: str, ctype_params: list[str], disposition: str,
        disposition_params: list[str]) -> None:
    """The parsed message's parameter reads (split once per field and cached, see
    ``message/mimepart.py``) give what the stock ``EmailMessage`` gives: charset, filename,
    boundary, every parameter, quoted or not."""
    def field(name: str, value: str, params: list[str]) -> str:
        text = "; ".join([value, *params]).replace("\r", " ").replace("\n", " ")
        return f"{name}: {text}\r\n" if value or params else ""

    raw = ("From: a@example.org\r\nSubject: x\r\n" + field("Content-Type", ctype, ctype_params)
           + field("Content-Disposition", disposition, disposition_params)
           + "\r\nbody\r\n").encode("utf-8", "surrogateescape")
    try:
        ours = parse(raw).msg
    except ParseError:
        return

    def reading(msg: Any) -> object:
        out: list[object] = []
        for read in (lambda: msg.get_content_charset(), lambda: msg.get_filename(),
                     lambda: msg.get_boundary(), lambda: msg.get_params(),
                     lambda: msg.get_params(unquote=False),
                     lambda: msg.get_params(header="content-disposition"),
                     lambda: msg.get_param("x"), lambda: msg.get_param("X", unquote=False),
                     lambda: msg.get_param("filename", "none", "content-disposition"),
                     lambda: msg.get_param("name", header="x-absent")):
            try:
                out.append(read())
            except Exception as exc:  # the same failure is the same reading
                out.append(type(exc))
        return out

    stock = BytesParser(policy=policy.default).parsebytes(raw)
    assert reading(ours) == reading(ours)  # the second read comes from the cache
    assert reading(ours) == reading(stock)


@SETTINGS
@given(fields=st.lists(st.builds(
    lambda ctype, params: "; ".join([ctype, *params]).replace("\r", " ").replace("\n", " "),
    st.sampled_from(["text/plain", "text/html", "TEXT/PLAIN", "application/pdf", "text"]),
    st.lists(PARAM_PIECES, max_size=3)), min_size=2, max_size=4))
def test_content_types_shared_between_mails_read_as_each_mails_own(fields: list[str]) -> None:
    """A short Content-Type is decoded once per process and its header object shared by the
    mails that have it (``headers._shared_mime_header``): each mail, parsed in any order and
    again, reads its own type and charset as the stock parser reads them, never another
    mail's."""
    def raw(value: str) -> bytes:
        return (f"From: a@example.org\r\nSubject: x\r\nContent-Type: {value}\r\n\r\nbody\r\n"
                ).encode("utf-8", "surrogateescape")

    def reading(msg: Any) -> object:
        out: list[object] = []
        for read in (msg.get_content_type, msg.get_content_charset, msg.get_params,
                     lambda: str(msg["Content-Type"]), lambda: msg["Content-Type"].params):
            try:
                out.append(read())
            except Exception as exc:  # the same failure is the same reading
                out.append(type(exc))
        return out

    for value in [*fields, *reversed(fields)]:
        try:
            ours = parse(raw(value)).msg
        except ParseError:
            continue
        assert reading(ours) == reading(BytesParser(policy=policy.default).parsebytes(raw(value)))


FOOTER_SAMPLES = [
    "Sent from my iPhone", "sent from my Galaxy S23", "SENT WITH ProtonMail", "Sendt fra min iPad",
    "Get Outlook for iOS<https://aka.ms/o0ukef>", "Von meinem iPhone gesendet", "von meinem Handy",
    "Verzonden vanaf mijn iPhone", "Enviado desde mi iPhone", "Inviato da iPhone",
    "Envoyé de mon iPhone", "Skickat från min iPhone", "Отправлено с iPhone", "发自我的iPhone",
    "iPhoneから送信", "내 iPhone에서 보냄", "iPhone'umdan gönderildi", "Wysłane z iPhone'a",
    "Sent from my phone laptop still broken", "I sent it twice", "  sent from   ", "",
    "The printer prints blank pages.", "ſent from my iPhone", "Lähetetty iPhonesta",
]
FOOTER_LINES = st.sampled_from(FOOTER_SAMPLES)
ASCII_LINES = st.text(alphabet=st.characters(max_codepoint=127), max_size=40)


@SETTINGS
@given(lines=st.lists(st.one_of(FOOTER_LINES, ASCII_LINES, st.text(max_size=60)), max_size=8))
def test_footer_prefilter_changes_nothing(lines: list[str]) -> None:
    """Looking at the whole text once before testing each line for a client footer drops
    exactly the lines the test drops."""
    from mailgate import footers

    for case in [lines, *([line] for line in FOOTER_SAMPLES)]:
        assert footers.without_footers(case) == [x for x in case if not footers._is_footer(x)]


@SETTINGS
@given(line=st.one_of(FOOTER_LINES, ASCII_LINES))
def test_joined_footers_need_a_letter_outside_ascii(line: str) -> None:
    """The footer test skips the joined-footer pattern for ASCII lines: none matches it."""
    from mailgate import footers

    assert not (line.isascii() and footers._JOINED_FOOTER.match(line))


@SETTINGS
@given(display=st.one_of(st.just(""), st.from_regex(
           r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}){0,2}",
           fullmatch=True)),
       local=st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
                           r"{1,8}){0,2}", fullmatch=True),
       domain=st.from_regex(r"[A-Za-z0-9-]{1,10}(\.[A-Za-z0-9-]{1,10}){1,2}", fullmatch=True),
       noise=st.sampled_from(["", " ", "x", "<", ">", "\t", ",", "\"", "(c)", "@"]),
       where=st.integers(0, 60))
def test_plain_senders_read_as_parseaddr_reads_them(display: str, local: str, domain: str,
                                                    noise: str, where: int) -> None:
    """The automatic-mail verdict reads a plainly written sender (``Name <a@b.example>``,
    ``a@b.example``) by the plain-mailbox pattern, as ``email.utils.parseaddr`` reads it;
    anything else (the noise breaks the plain form) still goes to parseaddr."""
    from email.utils import parseaddr

    from mailgate import autoreply

    value = f"{display} <{local}@{domain}>" if display else f"{local}@{domain}"
    value = value[:where] + noise + value[where:]
    autoreply._parsed_addr.cache_clear()
    assert autoreply._parsed_addr(value) == parseaddr(value)[1].strip().lower()


def test_a_remapped_header_factory_keeps_its_types_to_itself() -> None:
    """Header classes are made once per process for the typed fields (the shared registry of
    ``_HeaderCache``); a factory remapped by extending code reads its own types, and every
    other message still reads the stock ones."""
    from email.headerregistry import UnstructuredHeader

    class Upper(UnstructuredHeader):
        @classmethod
        def parse(cls, value: str, kwds: dict[str, Any]) -> None:
            super().parse(value.upper(), kwds)

    from email.headerregistry import HeaderRegistry

    extended, stock = _HeaderCache(), HeaderRegistry()
    extended.map_to_type("subject", Upper)
    stock.map_to_type("subject", Upper)
    assert str(extended("Subject", "=?utf-8?q?caf=C3=A9?= open")) == str(
        stock("Subject", "=?utf-8?q?caf=C3=A9?= open")) == "CAFé OPEN"
    plain = _HeaderCache()
    assert str(plain("Subject", "=?utf-8?q?caf=C3=A9?= open")) == "café open"
    assert type(plain("To", "A <a@x.org>, B <b@x.org>")) is type(
        _HeaderCache()("To", "C <c@x.org>, D <d@x.org>"))  # the class made once
