"""Where a reply's new text is, before its clauses are read: sentences that only point at
an attachment, conditional promises, text below an old message that Outlook quotes without
quote marks (bottom posting), and lines of the quoted history no ticket message holds.

Why separate: each of these reshapes the reply's parts (``quotes.ReplyParts``) and hands
them on; none decides a verdict. Sign-off and signature lines are read by ``signoff``,
one layer below; the package's ``judge`` calls these first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from mailgate.quotes import AFTERTHOUGHT, ReplyParts, is_separator, quoted_messages
from mailgate.replies.asides import POINTER_CUES, PURPOSE, promises
from mailgate.replies.clause import _JOINED_CHARS, _SENTENCE, Clause, Understanding
from mailgate.replies.lexicon import fold
from mailgate.replies.signoff import _below_sign_off

#: words that point at a file the mail carries ("attached", "anbei", "ci-joint", "添付")
_POINTER = re.compile(
    r"(?i)\b(?:attached|attachment|see att|enclosed|anbei|im anhang|angehängt|beigefügt|"
    r"ci-joint|pièce jointe|en pj|adjunto|adjunta|te adjunto|allegat[oaie]|in allegato|"
    r"em anexo|segue anexo|anexad[oa]|bijgevoegd|in de bijlage|bijlage|bifogat|bifogar|"
    r"vedhæftet|vedhæfter|vedlagt|vedlegg|liitteenä|liitteessä|w załączniku|załączam|"
    r"v příloze|přikládám|во вложении|прикладываю|прилагаю|у вкладенні|додаю|ekte|ekteki|"
    r"ekledim)\b|مرفق|添付|附件|附上|첨부")


def _without_pointers(understanding: Understanding, text: str) -> str:
    """``text`` without the sentences that only point at the mail's attachment ("Attached
    a photo of the test print", "Foto anbei", "添付の写真をご覧ください"): with a file in
    the mail they say nothing to act on by themselves (the team gets the file with the
    notice); one that also asks, reports a problem or says "but" stays."""
    out = []
    for line in text.splitlines():
        kept = [sentence for sentence in _SENTENCE.split(line)
                if not _pointer_only(understanding, sentence)]
        out.append(". ".join(s.strip() for s in kept if s.strip()) if len(kept) < len(
            _SENTENCE.split(line)) else line)
    return "\n".join(out)


def _pointer_only(understanding: Understanding, sentence: str) -> bool:
    words = max(len(sentence.split()), len(_JOINED_CHARS.findall(sentence)) // 2)
    if not _POINTER.search(sentence) or words > 7 or PURPOSE.search(sentence):
        return False
    said = understanding.clause(sentence)
    return not said.question and not (said.categories & POINTER_CUES) \
        and not said.live_problems


_FIELD = re.compile(r"^[\w\-. ]{1,25}\s?[:：]\s")  # "Von: ...", "Sent: ...", "差出人: ..."
_MAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", fold(text)))


def unseen_history(history: str, known: Sequence[str]) -> str:
    """The lines of a reply's quoted history that none of the ticket's messages holds:
    words the customer wrote into or below an unmarked history block (Outlook's
    "Original Message" style), which the cut would otherwise throw away with it.
    Header fields, attribution lines and short lines (names, greetings) are left out;
    empty when nothing is ``known`` (no ticket to compare with)."""
    if not known or not history:
        return ""
    corpus = _norm(" ".join(known))
    unseen = []
    for line in history.splitlines()[:400]:
        text = line.lstrip(" >").replace("**", "").strip()  # html2text's bold field names
        norm = _norm(text)
        if len(norm) < 12 or _FIELD.match(text) or text.endswith((":", "：")) or \
                _MAIL.search(text) or is_separator(text) or norm in corpus:
            continue
        unseen.append(text)
    return "\n".join(unseen)


def _without_promises(understanding: Understanding, parts: ReplyParts
                      ) -> tuple[ReplyParts, list[Clause]]:
    """The parts with each conditional promise cut out ("I'll let you know if it happens
    again": ``asides.promises``), and those promises as pleasantries."""
    found: list[Clause] = []
    texts = []
    for text in (parts.text, parts.signature, parts.late):
        kept, cut = promises(understanding, text)
        texts.append(kept)
        found += [Clause(c, frozenset({"pleasantry", "promise"}), 0, False) for c in cut]
    return replace(parts, text=texts[0], signature=texts[1], late=texts[2]), found


def _with_bottom_text(understanding: Understanding, parts: ReplyParts,
                      names: frozenset[str]) -> ReplyParts:
    """Where an old message below an unquoted header block ends is known (its sign-off),
    what follows it is the customer's: below the first old message, the new text when
    nothing stands above the history (bottom posting), else the text below the quote (in
    place of what the quote cutter guessed: a "P.S." or "Update on [SUP-1]: …" inside the
    old message is not theirs); below the last of several, a remark added there."""
    messages, quoted = quoted_messages(parts.history) if parts.history else ([], False)
    if not messages or quoted:
        return parts
    if len(messages) > 1:  # the deepest is often the customer's own: their name signs it
        below = _below_sign_off(understanding, messages[-1], frozenset())
        return replace(parts, late=f"{parts.late}\n\n{below}".strip()) if below else parts
    below = _below_sign_off(understanding, messages[0], names)
    if below is None:
        return parts
    # the cutter's late text stays (a rule or a "P.S." the customer set inside the old
    # message), unless it starts like the old message's own heading ("Opdatering på
    # [SUP-1]: …", "Update on your ticket: …")
    late = "" if AFTERTHOUGHT.match(parts.late) and _OLD_HEADING.match(parts.late) \
        else parts.late
    if not re.search(r"[^\W\d_]", parts.text):
        return replace(parts, text=below, late=late)
    return replace(parts, late=f"{late}\n\n{below}".strip())


#: an update word, more words, then a colon: how a desk's message opens ("Opdatering på
#: [SUP-1]:"), not a customer's "P.S." or "Update:"
_OLD_HEADING = re.compile(r"^\s*(?!p\.?\s?p?\.?\s?s\b|n\.\s?b\.|追伸|추신)"
                          r"(?=\S)[^\W\d_]+(?<!\.)\s+[^:\n]{1,40}:")


def bottom_posted(understanding: Understanding, history: str,
                  names: frozenset[str]) -> str | None:
    """The text below an unquoted quoted message that nothing follows (see
    ``_below_sign_off``); None when its end is unknown or more history follows."""
    messages, quoted = quoted_messages(history)
    if len(messages) != 1 or quoted:
        return None
    return _below_sign_off(understanding, messages[0], names)
