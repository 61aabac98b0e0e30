"""Generators of hostile and broken messages, for the parser and the running daemon.

Every case is deterministic (fixed seeds) and names what the gateway must do with it:

- ``done``: processed into a ticket (the mail is broken, not hostile enough to refuse);
- ``quarantined``: refused by a limit of ``mailgate.message``, with ``reason`` in the reason;
- ``any``: done, duplicate or quarantined are all acceptable (fuzzed and foreign corpora);
- ``automatic``: robot or spam mail, which must never get an acknowledgement.

Each case has its own sender address so that acknowledgements can be traced back to it.
What the SMTP listener itself refuses (a message over ``max_message_size`` gets a ``552``;
a line of any length within it is taken) is predicted by ``smtp_reply``.
"""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATE = b"Date: Mon, 05 Jan 2026 09:30:00 +0000\r\n"


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    sender: str  # the address an acknowledgement would go to
    expect: str = "done"  # "done", "quarantined" or "any"
    reason: str = ""  # part of the quarantine reason
    automatic: bool = False  # robot or spam: never acknowledged
    mail_from: str | None = None  # envelope sender, when not ``sender`` ("" is <>)

    @property
    def envelope(self) -> str:
        return self.sender if self.mail_from is None else self.mail_from


def smtp_reply(case: Case, max_size: int) -> int:
    """The reply code the SMTP listener gives the DATA of ``case`` (250 or 552)."""
    data = case.raw if case.raw.endswith(b"\r\n") else case.raw + b"\r\n"
    return 552 if len(data) > max_size else 250


def stored_bytes(raw: bytes) -> bytes:
    """What the listener stores for DATA ``raw``: the bytes, CRLF-terminated."""
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def mail(name: str, *, headers: bytes = b"", body: bytes = b"Hello, it is broken.\r\n",
         subject: bytes | None = None, sender: str | None = None, msgid: bool = True,
         date: bool = True) -> tuple[bytes, str]:
    """A CRLF mail from ``<name>@hostile.example`` with extra ``headers`` (CRLF-ended)."""
    sender = sender or f"{name}@hostile.example"
    head = b"From: Hostile Tester <" + sender.encode() + b">\r\n"
    head += b"To: support@example.com\r\n"
    head += b"Subject: " + (subject if subject is not None else name.encode()) + b"\r\n"
    if date:
        head += DATE
    if msgid:
        head += b"Message-ID: <" + name.encode() + b"@hostile.example>\r\n"
    return head + headers + b"\r\n" + body, sender


def multipart(parts: list[bytes], boundary: bytes = b"b0") -> tuple[bytes, bytes]:
    """(headers, body) of a multipart/mixed with ``parts`` (each: headers CRLF CRLF body)."""
    headers = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary
               + b"\"\r\n")
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return headers, body + b"--" + boundary + b"--\r\n"


def folded(name: bytes, size: int, token: bytes = b"word") -> bytes:
    """A header field of about ``size`` bytes folded into short lines (SMTP-safe)."""
    line_tokens = max(1, 70 // (len(token) + 1))
    lines, total = [], 0
    while total < size:
        line = b" ".join([token] * line_tokens)
        lines.append(line)
        total += len(line) + 3
    return name + b": " + b"\r\n ".join(lines) + b"\r\n"


def nested_multipart(depth: int) -> tuple[bytes, bytes]:
    head = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=n0\r\n"
    body = b"".join(b"--n%d\r\nContent-Type: multipart/mixed; boundary=n%d\r\n\r\n" % (i, i + 1)
                    for i in range(depth - 1))
    body += b"--n%d\r\nContent-Type: text/plain\r\n\r\ndeep inside\r\n" % (depth - 1)
    body += b"".join(b"--n%d--\r\n" % i for i in reversed(range(depth)))
    return head, body


def nested_rfc822(depth: int) -> tuple[bytes, bytes]:
    head = b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n"
    body = b"Subject: inner\r\nContent-Type: message/rfc822\r\n\r\n" * (depth - 1)
    return head, body + b"Subject: innermost\r\n\r\nthe forwarded text\r\n"


# -- the families ------------------------------------------------------------------


def limits() -> Iterator[Case]:
    """Each limit of the parser, just exceeded: quarantined with a reason naming it."""
    raw, who = mail("header-block", headers=b"".join(
        folded(b"X-Pad-%d" % i, 9000) for i in range(32)))
    yield Case("header-block", raw, who, "quarantined", "header block larger than")
    raw, who = mail("many-fields", headers=b"".join(b"X-F%d: v\r\n" % i for i in range(1200)))
    yield Case("many-fields", raw, who, "quarantined", "more than 1000 fields")
    head, body = multipart([b"Content-Type: text/plain\r\n\r\npart %d" % i
                            for i in range(10_000)])
    raw, who = mail("ten-thousand-parts", headers=head, body=body)
    yield Case("ten-thousand-parts", raw, who, "quarantined", "more than 500 MIME parts")
    head, body = nested_multipart(1000)
    raw, who = mail("nesting-1000", headers=head, body=body)
    yield Case("nesting-1000", raw, who, "quarantined", "nesting deeper than 20")
    head, body = nested_multipart(22)
    raw, who = mail("nesting-22", headers=head, body=body)
    yield Case("nesting-22", raw, who, "quarantined", "nesting deeper than 20")
    head, body = nested_rfc822(1000)
    raw, who = mail("rfc822-1000", headers=head, body=body)
    yield Case("rfc822-1000", raw, who, "quarantined", "nesting deeper than 20")
    head, body = nested_multipart(15)
    body = body.replace(b"deep inside\r\n", b"\r\n" * 150_000)
    raw, who = mail("line-work", headers=head, body=body)
    yield Case("line-work", raw, who, "quarantined", "too much parsing work")
    many = b"".join(b"To: " + b", ".join(b"\"n%d\" <u%d-%d@example.org>" % (j, i, j)
                                         for j in range(25)) + b"\r\n" for i in range(300))
    raw, who = mail("address-flood", headers=many)
    yield Case("address-flood", raw, who, "quarantined", "too complex to decode")


def cut() -> Iterator[Case]:
    """Fields only longer than their limit (legal mail): cut for processing, ``reason`` names
    the field as noted in the ticket's ``headers_cut`` event; a ticket, not a quarantine."""
    raw, who = mail("long-line", headers=b"X-Long: " + b"a" * 300_000 + b"\r\n")
    yield Case("long-line", raw, who, "done", "X-Long (300010 bytes -> ")
    raw, who = mail("long-field", headers=folded(b"X-Long", 20_000))
    yield Case("long-field", raw, who, "done", "X-Long (")
    raw, who = mail("long-subject", subject=folded(b"S", 20_000)[3:-2])
    yield Case("long-subject", raw, who, "done", "Subject (")
    raw, who = mail("long-to", headers=folded(b"Cc", 20_000, b"x@example.org,"))
    yield Case("long-to", raw, who, "done", "Cc (")
    raw, who = mail("cte-comments", headers=b"Content-Transfer-Encoding: "
                    + b"\r\n ".join([b"(a)" * 20] * 30) + b"\r\n")
    yield Case("cte-comments", raw, who, "done", "Content-Transfer-Encoding (")
    raw, who = mail("mime-param-soup", headers=b"Content-Type: text/plain; x=\""
                    + b"\r\n ".join([b";" * 60] * 50) + b"\"\r\n")
    yield Case("mime-param-soup", raw, who, "done", "Content-Type (")
    folds = b"X-Folded: start" + b"".join(b"\r\n line %d" % i for i in range(5000)) + b"\r\n"
    raw, who = mail("folded-5000-lines", headers=folds)
    yield Case("folded-5000-lines", raw, who, "done", "X-Folded (")
    refs = b"References:" + b"".join(b"\r\n <ref-%d@lists.example>" % i for i in range(3000))
    raw, who = mail("references-3000", headers=refs + b"\r\n")
    yield Case("references-3000", raw, who, "done", "References (")


def broken() -> Iterator[Case]:
    """Malformed mail a real gateway meets: processed, with what could be salvaged."""
    yield Case("nul-bytes", *mail("nul-bytes", subject=b"a\x00b",
                                  headers=b"X-Nul: \x00\x00\r\n", body=b"te\x00xt\r\n"))
    raw = (b"From: bare-cr@hostile.example\rTo: support@example.com\rSubject: bare CR\r"
           b"Message-ID: <bare-cr@hostile.example>\r\rbody\rmore\r")
    yield Case("bare-cr", raw, "bare-cr@hostile.example")
    raw = (b"From: bare-lf@hostile.example\nTo: support@example.com\nSubject: bare LF\n"
           b"Message-ID: <bare-lf@hostile.example>\n\nbody\n")
    yield Case("bare-lf", raw, "bare-lf@hostile.example")
    raw = (b"From: no-separator@hostile.example\r\nTo: support@example.com\r\n"
           b"Subject: no separator\r\nMessage-ID: <no-separator@hostile.example>\r\n"
           b"this line is already the body\r\n")
    yield Case("no-separator", raw, "no-separator@hostile.example")
    yield Case("headers-only", b"From: headers-only@hostile.example\r\nSubject: only\r\n"
               b"Message-ID: <headers-only@hostile.example>", "headers-only@hostile.example")
    yield Case("not-mail", b"\r\njust some text, no headers\r\n", "", "quarantined",
               "no headers", mail_from="not-mail@hostile.example")
    yield Case("empty-lines-only", b"\r\n\r\n\r\n", "", "quarantined", "no headers",
               mail_from="empty@hostile.example")
    yield Case("ew-crlf", *mail("ew-crlf", subject=b"=?utf-8?q?hi=0D=0ABcc:_x@evil.example?="))
    yield Case("ew-crlf-name", *mail("ew-crlf-name", headers=b"Reply-To: =?utf-8?q?Eve=0D=0A"
                                     b"Bcc:_x@evil.example?= <ew-crlf-name@hostile.example>"
                                     b"\r\n"))
    yield Case("ew-double-encoded", *mail("ew-double-encoded", subject=b"=?utf-8?q?=3D=3Futf-8"
                                          b"=3Fq=3Fa=3D0D=3D0ABcc=3A_x=40evil.example=3F=3D?="))
    raw, who = mail("ew-message-id", msgid=False, headers=b"Message-ID: <=?utf-8?q?a=0D=0ABcc:"
                    b"_x@evil.example?=@hostile.example>\r\nReferences: <=?utf-8?q?=0D=0AX-In:"
                    b"_1?=>\r\n")
    yield Case("ew-message-id", raw, who)
    yield Case("ew-reply-to-name", *mail("ew-reply-to-name", headers=b"Reply-To: =?utf-8?q?=3D"
                                         b"=3Futf-8=3Fq=3FN=3D0D=3D0AX-N=3A_1=3F=3D?= "
                                         b"<ew-reply-to-name@hostile.example>\r\n"))
    yield Case("ew-unknown-charset", *mail("ew-unknown-charset",
                                           subject=b"=?x-bogus?q?na=FFme?= =?utf-8?b?!!!?="))
    yield Case("ew-punycode", *mail("ew-punycode", subject=b"=?punycode?q?" + b"a" * 900
                                    + b"?="))
    yield Case("8bit-subject", *mail("8bit-subject", subject=b"Gr\xfc\xdfe \xff\xfe"))
    yield Case("8bit-name", *mail("8bit-name", headers=b"Reply-To: J\xc3\xbcrgen \xff "
                                  b"<8bit-name@hostile.example>\r\n"))
    raw = ("From: Jürgen Müller <jürgen@exämple.org>\r\nTo: support@example.com\r\n"
           "Subject: Grüße aus Köln\r\nMessage-ID: <smtputf8@exämple.org>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\nDer Drucker druckt nicht.\r\n").encode()
    yield Case("smtputf8", raw, "jürgen@exämple.org")
    raw, who = mail("bad-message-id", msgid=False,
                    headers=b"Message-ID: <\x01\x02@\xff> <>\r\n")
    yield Case("bad-message-id", raw, who)
    raw, who = mail("bad-from", sender="bad-from@hostile.example")
    yield Case("bad-from", raw.replace(b"Hostile Tester <bad-from@hostile.example>",
                                       b"<<<>>>@@@,,,\"\"\""), "bad-from@hostile.example")
    yield Case("from-comments", mail("from-comments")[0].replace(
        b"From: Hostile Tester", b"From: " + b"\r\n ".join([b"(" * 60] * 10), 1),
        "from-comments@hostile.example")
    yield Case("from-quote-soup", mail("from-quote-soup")[0].replace(
        b"From: Hostile Tester", b"From: " + b"\r\n ".join([b"\"a" * 30] * 200), 1),
        "from-quote-soup@hostile.example")
    for label, value in (("bad-date", b"99 Foo 99999 99:99:99 +9999"),
                         ("date-year-1", b"Mon, 01 Jan 0001 00:00:00 +1400"),
                         ("date-year-9999", b"Fri, 31 Dec 9999 23:59:59 -1200"),
                         ("date-overflow", b"Mon, 05 Jan 99999999999999999999 09:30:00 +0000")):
        yield Case(label, *mail(label, date=False, headers=b"Date: " + value + b"\r\n"))
    yield Case("no-message-id", *mail("no-message-id", msgid=False))
    yield Case("no-date", *mail("no-date", date=False))
    text = b"Content-Type: text/plain; charset="
    for label, charset, body in (
            ("charset-unknown", b"x-unknown", b"caf\xe9 cr\xe8me\r\n"),
            ("charset-utf8-latin1", b"utf-8", b"caf\xe9 cr\xe8me\r\n"),
            ("charset-ascii-8bit", b"us-ascii", "café\r\n".encode()),
            ("charset-punycode", b"punycode", b"abc-" + b"a" * 50_000 + b"\r\n"),
            ("charset-base64-codec", b"base64", b"aGVsbG8=\r\n"),
            ("charset-rfc2231", b"\"\"\r\nContent-Type: text/plain; charset*=utf-8''utf%2D8",
             b"hi\r\n"),
            ("charset-nul", b"\"utf-8\x00\"", b"hi\r\n")):
        yield Case(label, *mail(label, headers=text + charset + b"\r\n", body=body))
    for label, cte, body in (
            ("base64-invalid", b"base64", b"!!!not base64***\r\nYQ=\r\n"),
            ("base64-truncated", b"base64", b"aGVsbG8gd29ybG\r\n"),
            ("qp-invalid", b"quoted-printable", b"=ZZ=\r\n=\r\n=4"),
            ("cte-unknown", b"x-rot13", b"uryyb\r\n"),
            ("uuencode-broken", b"x-uuencode", b"begin 644 f\r\n!!!!\r\nend\r\n")):
        yield Case(label, *mail(label, headers=b"Content-Type: text/plain\r\n"
                                b"Content-Transfer-Encoding: " + cte + b"\r\n", body=body))
    yield Case("ctype-garbage", *mail("ctype-garbage", headers=b"Content-Type: \xff/\xfe;"
                                      b" charset=\"\r\n"))
    yield Case("multipart-no-boundary", *mail("multipart-no-boundary", headers=b"MIME-Version:"
                                              b" 1.0\r\nContent-Type: multipart/mixed\r\n"))
    yield Case("multipart-unclosed", *mail("multipart-unclosed", headers=b"MIME-Version: 1.0\r\n"
                                           b"Content-Type: multipart/mixed; boundary=x\r\n",
                                           body=b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n"))
    head, body = multipart([
        b"Content-Type: text/plain\r\n\r\nsee the attachments",
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;"
        b" filename*=utf-8''..%2F..%2Fetc%2Fpasswd%E2%80%AE.txt\r\n\r\nx",
        b"Content-Type: application/octet-stream; name=\"..\\\\..\\\\boot.ini\"\r\n\r\ny",
        b"Content-Type: image/png\r\nContent-Disposition: attachment; filename=\"\x1b[31mred"
        b"\x07.png\"\r\n\r\nz",
        b"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=\""
        + "я".encode() * 150 + b".pdf\"\r\n\r\nlong name",
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment;"
        b" filename=\"CON.pdf\"\r\n\r\ndevice",
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment;"
        b" filename=\"invoice\xe2\x80\xaefdp.exe\"\r\n\r\nbidi"])
    yield Case("attachment-names", *mail("attachment-names", headers=head, body=body))
    head, body = multipart([b"Content-Type: text/plain\r\n\r\nsee", b"Content-Type: message/rfc822"
                            b"\r\n\r\nFrom: inner@x\r\nSubject: inner\r\n\r\ninner body"])
    yield Case("rfc822-attached", *mail("rfc822-attached", headers=head, body=body))
    head, body = nested_multipart(20)
    yield Case("nesting-20", *mail("nesting-20", headers=head, body=body))
    head, body = multipart([b"Content-Type: text/plain\r\n\r\npart %d" % i for i in range(300)])
    yield Case("three-hundred-parts", *mail("three-hundred-parts", headers=head, body=body))
    yield Case("html-deep-lists", *mail("html-deep-lists", headers=b"Content-Type: text/html\r\n",
                                        body=b"<ul>\r\n" * 3000 + b"<li>x\r\n" * 3000))
    yield Case("html-huge", *mail("html-huge", headers=b"Content-Type: text/html\r\n",
                                  body=b"<p>hello <b>world</b></p>\r\n" * 20_000))
    yield Case("html-unclosed", *mail("html-unclosed", headers=b"Content-Type: text/html\r\n",
                                      body=b"<a href=\"" + b"x" * 900 + b"\r\n" * 100 + b"<<<<"
                                      b"<script>alert(1)</script><!--" * 50))
    yield Case("header-folding", *mail("header-folding", headers=b"X-Fold: a" + b"\r\n " * 3000
                                       + b"\r\n\t\r\n"))
    yield Case("continuation-first", b" folded first\r\n" + mail("continuation-first")[0],
               "continuation-first@hostile.example", "any")
    yield Case("many-tags", *mail("many-tags", subject=b"".join(b"[SUP-%d] " % i
                                                                for i in range(80))))
    yield Case("to-100-addresses", *mail("to-100-addresses", headers=b"Cc: " + b",\r\n ".join(
        b"\"Person %d\" <p%d@example.org>" % (i, i) for i in range(150)) + b"\r\n"))
    big = base64.encodebytes(os.urandom(15_000_000)).replace(b"\n", b"\r\n")
    head, body = multipart([b"Content-Type: text/plain\r\n\r\nthe log is attached",
                            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding:"
                            b" base64\r\nContent-Disposition: attachment; filename=big.bin\r\n\r\n"
                            + big, b"Content-Type: text/plain\r\n\r\n-- \r\nSent from a phone"])
    yield Case("attachment-20mb", *mail("attachment-20mb", headers=head, body=body))


def automatic() -> Iterator[Case]:
    """Robot and spam mail with hostile twists: never acknowledged, whatever else happens."""
    yield Case("auto-replied", *mail("auto-replied", headers=b"Auto-Submitted: auto-replied\r\n"),
               automatic=True)
    yield Case("auto-folded", *mail("auto-folded", headers=b"Auto-Submitted:\r\n auto-generated;"
                                    b"\r\n owner-email=x@y\r\n"), automatic=True)
    yield Case("precedence-bulk", *mail("precedence-bulk", headers=b"Precedence: BULK\r\n"),
               automatic=True)
    yield Case("list-id-encoded", *mail("list-id-encoded", headers=b"List-Id: =?utf-8?q?a=0D=0A"
                                        b"b?= <l.example>\r\n"), automatic=True)
    yield Case("x-autoreply", *mail("x-autoreply", headers=b"X-Autoreply: yes\r\n"),
               automatic=True)
    raw, _ = mail("null-sender")
    yield Case("null-sender", raw, "null-sender@hostile.example", automatic=True, mail_from="")
    raw, who = mail("mailer-daemon", sender="MAILER-DAEMON@hostile.example")
    yield Case("mailer-daemon", raw, who.lower(), automatic=True)
    raw, who = mail("noreply", sender="no-reply@hostile.example")
    yield Case("noreply", raw, who, automatic=True)
    yield Case("ooo-subject", *mail("ooo-subject", subject=b"Automatic reply: away"),
               automatic=True)
    yield Case("spam-flag", *mail("spam-flag", headers=b"X-Spam-Flag: YES\r\n"),
               "quarantined", "spam", automatic=True)
    yield Case("auto-8bit", *mail("auto-8bit", headers=b"Auto-Submitted: auto-replied \xff\r\n"
                                  b"Subject: \xff\xfe\r\n"), automatic=True)
    yield Case("auto-many-tags", *mail("auto-many-tags", headers=b"Auto-Submitted: auto-replied"
                                       b"\r\n" * 50), automatic=True)
    dsn = (b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
           b" boundary=r\r\n")
    body = (b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--r\r\nContent-Type:"
            b" message/delivery-status\r\n\r\n" + b"Final-Recipient: rfc822; x@y\r\nAction: "
            b"failed\r\n\r\n" * 400 + b"--r--\r\n")
    raw, who = mail("dsn-many-blocks", headers=dsn, body=body, sender="mailer-daemon@dsn.example")
    yield Case("dsn-many-blocks", raw, who, "any", automatic=True, mail_from="")


def fuzzed(seed: int = 6, count: int = 60) -> Iterator[Case]:
    """Deterministic mutations of a small MIME mail: byte flips, hostile tokens, cuts."""
    rng = random.Random(seed)
    tokens = [b"\x00", b"\r", b"\n", b"\r\n\r\n", b"=?utf-8?b?", b"?=", b"\"", b"(", b"<", b";",
              b"--b0", b"--b0--", b"\xff", b"\xc3", b"\xe2\x80\xae", b"boundary=", b":", b"\t",
              b"=\r\n", b"Content-Type: multipart/mixed; boundary=b0\r\n", b"charset=punycode"]
    head, body = multipart([b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello world",
                            b"Content-Type: text/html\r\n\r\n<p>hi</p>",
                            b"Content-Type: application/pdf; name=a.pdf\r\n"
                            b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK"])
    for n in range(count):
        name = f"fuzz-{n}"
        raw = bytearray(mail(name, headers=head + b"Reply-To: \"R\" <" + name.encode()
                             + b"@hostile.example>\r\n", body=body)[0])
        start = raw.index(b"Subject:")  # keep From and To intact: the sender must be known
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(start, len(raw))
            what = rng.random()
            if what < 0.4:
                raw[at] = rng.randrange(256)
            elif what < 0.8:
                raw[at:at] = rng.choice(tokens)
            else:
                del raw[at:at + rng.randint(1, 40)]
        yield Case(name, bytes(raw), f"{name}@hostile.example", "any")


def cpython_corpus() -> Iterator[Case]:
    """CPython's own test_email messages (skipped when the ``test`` package is missing)."""
    try:
        import test.test_email as suite
    except ImportError:
        return
    folder = Path(suite.__file__).parent / "data"
    for path in sorted(folder.glob("msg_*.txt")):
        raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        yield Case(f"cpython-{path.stem}", raw, "", "any", mail_from="cpython@hostile.example")


def corpus(*, big: bool = True) -> list[Case]:
    """Every case; ``big=False`` leaves out the 20 MB attachment."""
    cases = [*limits(), *cut(), *broken(), *automatic(), *fuzzed(), *cpython_corpus()]
    return [c for c in cases if big or c.name != "attachment-20mb"]

