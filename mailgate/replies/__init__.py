"""Is a reply to a closed ticket only a thank-you? Read its structure, then its clauses.

Why: a reply that only thanks must not reopen a ticket (seed 000), and a reply
that asks for anything must. Recall comes from the shape of a reply, not from a
list of sentences:

1. **Where the new text is** (``mailgate.quotes.reply_parts``): quoted history
   (attribution lines and header blocks in any language), the ``-- `` signature
   and disclaimers are cut away; text the customer wrote *below* the signature or
   the quoted history (a "P.S.", a line after a rule) is kept as such. Where an old
   message that Outlook quotes without quote marks ends is read from its sign-off
   (``bottom_posted``): what follows is the new text when nothing stands above the
   history (bottom posting), else text below the quote.
2. **Zones of the new text**: a greeting line ("Hallo Anna,", "Servus Stefan,"),
   the body, a closing formula after which only the signature follows (names,
   titles, company, phone numbers, addresses, notices). A line with a phone
   number, a web or mail address, a register number or a rule starts the
   signature too, and so does the writer's own name ("Бойко І.П.", "Л.М.
   Степаненко", "i. A. Klaus Hoffmann", "事務長 中村 恵子"). Below it, a clause
   that asks, reports a problem or says something does not work still counts.
3. **Clauses** of the body (split at . ! ? ; , and line ends, 。！？ too), each
   read with the lexicon (``lexicon.py``): a question mark, a contrast ("but"),
   a request ("please", "could you"), a problem that is not negated ("error",
   but not "no more errors"), a negated success ("doesn't work"), or "again"
   without a success, thanks, apology or greeting in the same clause ("Danke,
   wir sind wieder ausgesperrt") make the reply substantive. Some words are read by
   their neighbours: a wanting word that governs thanks ("ich möchte mich bedanken"), an
   "in advance" beside a wish ("Fijne feestdagen alvast"), "encore"/"só" beside thanks
   or an apology, pt "mais" after "não" ("não trava mais": any more) say nothing asked.
   Clauses of gratitude, success, apology, closings, pleasantries and greetings are harmless; other
   words are unknown, and only a few are tolerated (a name, "the export").
4. **The sentence judge** (``model.py``): a clause the rules leave open (not
   anchored by thanks, success, apology or greeting and not a name, or with too
   many unknown words, or with only a free negation or a time word: "Alla bilar
   är nedladdade nu", "без зсуву") is harmless when a small classifier trained
   offline is confident (thresholds in its file, each chosen on held-out halves of
   the tuning replies). A clause naming a problem word must clear the file's problem
   threshold, one with "again" and only fillers beside it the "again" threshold, and
   one the rules reopen only for a word cue (a request, "still" or interrogative word
   with no question mark: "Fijn weekend alvast", "Vad skönt", "Laat het gerust weten
   als je nog vragen hebt") the cue threshold; a file without one leaves those to the
   rules. It never overrules a question mark, a live problem, a negated success, a
   partial success or "gone", and reads a clause of more than ``JUDGE_WORDS``
   words in parts (at "and", "that" and their kin in each language, else in
   overlapping runs): harmless only when every part is.
5. **Verdict**: thanks-only when no clause is substantive, one says thanks or
   that it works, and little is unknown. Anything else, including text in the
   signature that asks something, is substantive: when unsure, reopen.

``Verdict.reason`` names the clause that decided (and each clause the judge
cleared, with its score), for the ticket's event and ``mailgate explain``.

Modules: ``clause`` reads one clause (step 3: hits, negation binding,
``substantive_reason``; it holds ``Understanding`` and ``Clause``); ``signoff`` reads the
lines that end a message (names, firm, register and org lines, sign-offs); ``structure``
finds where the new text is (pointers, promises, bottom-posted text, unseen history);
``crosscues`` reads short cue words by the clause around them (a function word of another
language, "only" before "forgot", "can <verb> again"), ``closeask`` a polite question that
only asks to close the ticket, ``pasted`` cuts our own mail pasted back without quote marks,
``answer`` reads a short answer ("Yes", "No, not yet") with the engineer's closing question
and an emoji reaction mail by its emoji;
this module holds the entry points, the body and signature readers, the sentence judge's
gate (step 4) and the verdict (step 5). Imports run one way: lexicon < clause < signoff <
structure < this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mailgate.footers import without_notices
from mailgate.message import Inbound
from mailgate.quotes import AFTERTHOUGHT, ReplyParts, reply_parts
from mailgate.replies.answer import explained, reaction, reaction_notice, read_answer
from mailgate.replies.asides import without_attaching
from mailgate.replies.clause import (
    _ANCHORS,
    _CLAUSE,
    _JOINED_CHARS,
    _QUESTION,
    _SENTENCE,
    Clause,
    Understanding,
    _over,
    _unanchored,
    _without_names,
    sentences,
    substantive_reason,
)
from mailgate.replies.closeask import asked_to_close
from mailgate.replies.consent import consenting, praised
from mailgate.replies.crosscues import copied_in, forgotten_what
from mailgate.replies.lexicon import HARMLESS, fold
from mailgate.replies.pasted import without_our_text
from mailgate.replies.signoff import (
    _ADDRESS,
    _CLOCK,
    _CONTACT,
    _DEVICE,
    _RULE,
    _SELF_INTRO,
    _contact_parts,
    _firm_line,
    _firm_of,
    _looks_like_notice,
    _name_like,
    _nickname,
    _notice,
    _prose,
    _register_line,
    _signs,
)
from mailgate.replies.structure import (
    _with_bottom_text,
    _without_pointers,
    _without_promises,
    bottom_posted,
    unseen_history,
)

MAX_TEXT = 3000  # new text longer than this is never a bare thank-you
UNKNOWN_WORDS = 12  # words the lexicon does not know, tolerated in all
UNKNOWN_IN_CLAUSE = 7  # ... in a clause that thanks, says it works or apologises
UNKNOWN_ELSEWHERE = 4  # ... in a sentence with none of those (a name, "Anna Berg, ACME")


@dataclass(frozen=True)
class Verdict:
    """What the reply says: thanks only, or substantive; ``reason`` says why."""

    thanks_only: bool
    reason: str
    matched: tuple[str, ...] = ()


def understand(understanding: Understanding, inbound: Inbound,
               known: Sequence[str] = (), ours: Sequence[str] = ()) -> Verdict:
    """Read the reply ``inbound`` (see the module docstring); ``known`` are the texts of
    the ticket's stored messages, which its quoted history should hold, ``ours`` those of
    the mail we sent on it (pasted back without quote marks, no new text: ``pasted``)."""
    reacted = reaction(inbound.msg)  # a Gmail reaction mail says its emoji, nothing else
    if reacted is not None:
        return Verdict(*reacted)
    parts = without_our_text(reply_parts(inbound.text), ours)
    if inbound.attachments:  # "Anbei ein Foto vom Testdruck" points at the file it carries
        parts = replace(parts, text=_without_pointers(understanding, without_attaching(
            understanding, parts.text)))
    reacted = reaction_notice(parts.text)  # "Karin Lund reacted to your message: 👍"
    if reacted is not None:
        return Verdict(*reacted)
    said = read_answer(understanding, parts, inbound.text, ours)  # "Yes" to "Can we close it?"
    if said is not None and not said.fine:
        return Verdict(False, said.reason)
    verdict = judge(understanding, replace(parts, text=said.rest) if said else parts,
                    inbound.from_name, unseen_history(parts.history, known),
                    (said.clause(),) if said else ())
    if said is not None and verdict.thanks_only:
        return replace(verdict, reason=explained(said, verdict.reason, verdict.matched))
    return verdict


def judge(understanding: Understanding, parts: ReplyParts,
          sender_name: str | None = None, unseen: str = "",
          answered: Sequence[Clause] = ()) -> Verdict:
    """The verdict on a reply's parts (its new text, signature and late text) and on
    ``unseen`` lines of its quoted history (see ``unseen_history``); ``answered``: a short
    answer that said all is well (``answer``), counted as thanks."""
    if len(parts.text) > MAX_TEXT:
        return Verdict(False, f"long new text ({len(parts.text)} characters)")
    names = frozenset(fold(w) for w in re.findall(r"[^\W\d_]+", sender_name or ""))
    parts = _with_bottom_text(understanding, parts, names)
    parts, promised = _without_promises(understanding, parts)
    read = _read_body(understanding, parts.text, names)
    if isinstance(read, Verdict):
        return read
    signature = "\n".join(without_notices(parts.signature.splitlines()))  # as _with_rest
    for zone, text in (("signature", signature), ("text below the quote", parts.late)):
        late = _read_late(understanding, text[:MAX_TEXT], names, zone)  # bounded work
        if isinstance(late, Verdict):
            return late
        read += late
    if unseen:  # words in the history that the ticket never saw: read as strictly as the body
        inside = _read_body(understanding, unseen[:MAX_TEXT], names)
        if isinstance(inside, Verdict):
            return Verdict(False, f"{inside.reason} (in the quoted history, in no message"
                                  " of the ticket)")
        read += inside
    return _verdict(praised(read + promised + list(answered)))  # "Funcionou! Vocês são demais"


def _read_body(understanding: Understanding, text: str,
               names: frozenset[str]) -> list[Clause] | Verdict:
    """The clauses of the body, up to the signature (after a closing formula, a rule, a
    short contact or device line), which is read as ``_read_late`` reads: a question, a
    request, a problem or a "P.S." there still counts. A verdict if one is substantive."""
    clauses: list[Clause] = []
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if not line.strip():
            continue
        short = len(line.split()) <= 6 and len(_JOINED_CHARS.findall(line)) <= 20 and \
            not _CLOCK.search(line)  # "since 10:15 anna@x gets this:" is no contact line
        if clauses and (_RULE.match(line) or (_CONTACT.search(line) and (
                short or _contact_parts(line))) or
                        _signs(line, names) or _firm_of(line, lines[k + 1:], names) or
                        _register_line(line) or (_ADDRESS.search(line) and short) or (
                _DEVICE.search(line) and len(line.split()) <= 8)):
            return _with_rest(clauses, understanding, lines[k:], names)
        if clauses and _nickname(line, names):  # "Ale" for Alessandro: a sign-off
            continue
        line_clauses: list[Clause] = []
        for sentence in _SENTENCE.split(line):
            said = [understanding.clause(c, names, languages=True)
                    for c in _CLAUSE.split(sentence) if c.strip()]
            # "podem encerrar o chamado", "Können Sie das Ticket schließen?", "Je mets ma
            # collègue en copie", "Ich hatte nur vergessen, | den Stecker einzustecken"
            said = consenting(understanding, asked_to_close(copied_in(forgotten_what(said))))
            for i, clause in enumerate(said):
                why = substantive_reason(clause)
                soft = why in _SOFT or (why == "a partial success" and "solved" not in
                                        clause.categories)  # "yesterday", no success word
                again = _bare_again(clause, why)
                cue = _word_cue(clause, why)
                if why and not ((soft or again or cue) and
                                _judge(understanding, clause, again, cue)):
                    return Verdict(False, f"{why}: {clause.text[:80]!r}")
                if why:  # the judge read it as harmless ("Alt ligger i skyen igen")
                    said[i] = _judged(understanding, clause, again, cue)
            # a clause counts as thanks only by its own words: "works on the laptop, the
            # desktop shows a black screen" lends the second clause nothing
            line_clauses += [_read_alone(understanding, _without_names(c, names))
                             for c in said]
        # "Servus Stefan," / "Ciao Marco," opening the mail greets: a closing word there
        # does not end the body
        greets = not clauses and line.rstrip().endswith(",")
        clauses += line_clauses
        # a closing formula is short: a "closing" word inside a sentence of other words
        # (Portuguese "Att." in Swedish "lättare att jobba", "att" being "to") closes nothing
        if line_clauses and not greets and all(_closes(c) or c.unknown == 0
                                               for c in line_clauses) and any(
                _closes(c) for c in line_clauses):
            return _with_rest(clauses, understanding, lines[k + 1:], names)
    return clauses


def _closes(clause: Clause) -> bool:
    """A clause that is a closing formula ("Mit freundlichen Grüßen", "Best, Ana"): a
    closing word with at most two words no list knows (a sentence the judge had to clear
    is none)."""
    return "closing" in clause.categories and clause.unknown <= 2 and clause.judged is None


#: the reason the sentence judge may overrule: a negation bound to no listed word ("без
#: зсуву", "no bother") says nothing by itself, nor does a time word without a success
#: ("что вчера столько раз звонила"); a question, "but", a request, a live problem, a
#: negated success, a partial success ("worked yesterday"), "again" (unless ``_bare_again``)
#: or "gone" decide
_SOFT = frozenset({"a negation"})


#: the words an "again" clause the judge may clear holds besides "again": fillers only, no
#: problem, negation, qualifier, "but" or request word ("the orders come in again")
_AGAIN_ALONE = frozenset({"again", "pleasantry"})


def _bare_again(clause: Clause, why: str | None) -> bool:
    """An "again" clause whose verb no list knows ("die Buchungen trudeln wieder ein"):
    the judge, trained on "X broke again" / "X works again" in every language, decides;
    a clause with a problem, a negation or a qualifier beside "again" is never judged."""
    return why == "'again' without a success" and clause.categories <= _AGAIN_ALONE \
        and not clause.free_negation


#: reasons that rest on one word of the lexicon, not on the mail's punctuation: a request
#: word ("alvast", "gerne"), an interrogative word with no question mark ("Vad skönt",
#: "Quel confort"), a "still" word ("Prettige avond nog"); the lexicon's words have more
#: senses than one, so the judge may clear such a clause, by the file's own cue threshold
_WORD_CUES = frozenset({"a request", "a 'but' or 'still'", "a question"})


def _word_cue(clause: Clause, why: str | None) -> bool:
    """A clause that is substantive only by a word cue: no question mark, no thanks (a
    request word beside thanks is "thanks in advance": "Alvast bedankt", "Danke im
    Voraus"), and without the cue words nothing decisive is left (no live problem,
    negated success, "again")."""
    if why not in _WORD_CUES or _QUESTION.search(clause.text) or \
            "gratitude" in clause.categories:
        return False
    rest = replace(clause, question=False,
                   categories=clause.categories - {"request", "contrast", "interrogative"})
    return substantive_reason(rest) in (None, *_SOFT)


def tags(clause: Clause) -> list[str]:
    """What the lexicon read in a clause, as features for the sentence judge."""
    return [*sorted(clause.categories), *(f"not-{n}" for n in sorted(clause.negated)),
            *(["free-negation"] if clause.free_negation else []),
            *(["live-problem"] if clause.live_problems else [])]


JUDGE_WORDS = 12  # a longer clause is judged in parts of at most this many words


def _judge(understanding: Understanding, clause: Clause, again: bool = False,
           cue: bool = False) -> float | None:
    """The sentence judge's P(harmless) of a clause, if it is confident (for an "again"
    clause, a word cue or a problem word, by the model's own threshold for it too); else
    None. Confirmations are short ("Alla bilar är nedladdade nu"): a long clause is judged
    in parts (``judge_parts``), each of which must be harmless, none ask or report a problem
    (the judge was trained on clauses, not on whole long sentences)."""
    model = understanding.model
    if model is None:
        return None
    if _words(clause.text) <= JUDGE_WORDS:
        return model.harmless(clause.text, tags(clause), again=again, cue=cue,
                              problem="problem" in clause.categories)
    scores = []
    for piece in judge_parts(clause.text):
        read = understanding.clause(piece)
        why = substantive_reason(read)
        if _QUESTION.search(piece) or why not in (None, *_SOFT, _AGAIN):
            return None
        score = model.harmless(piece, tags(read), again=again or why == _AGAIN, cue=cue,
                               problem=bool({"problem"} & (clause.categories | read.categories)))
        if score is None:
            return None
        scores.append(score)
    return min(scores)


_AGAIN = "'again' without a success"


def _words(text: str) -> int:
    return max(len(text.split()), len(_JOINED_CHARS.findall(text)) // 3)


#: where a long clause parts into shorter statements: "and", "that", "so" in each language
#: ("Just to let you know | Claire logs in fine | with the new laptop")
_JOINS = re.compile(
    r"(?<!\S)(?:and|that|so|und|dass|sodass|et|que|y|e|che|dat|och|att|og|ja|että|oraz|"
    r"że|že|и|что|і|та|що|ve|ki)\s|(?<=\S)(?:그리고|그래서|そして|ので|から|并且|而且|所以)",
    re.IGNORECASE)


def judge_parts(text: str) -> list[str]:
    """A long clause parted at its joining words ("Just to let you know | Claire logs in
    fine"), each part short enough to judge (a longer one read in overlapping runs)."""
    pieces = [p.strip() for p in _JOINS.split(text) if p and p.strip()]
    return [w for p in pieces for w in _windows(p)]


def _windows(text: str) -> list[str]:
    """A part still longer than ``JUDGE_WORDS``: overlapping runs of that many words (of
    characters, in a script without spaces), so every word is judged beside its neighbours."""
    if _words(text) <= JUDGE_WORDS:
        return [text]
    tokens = text.split()
    if JUDGE_WORDS // 2 <= len(tokens) <= JUDGE_WORDS:  # "مرتبطة بالنظام", "없어져서": a word
        return [text]  # of many letters, counted in spaces
    if len(tokens) < JUDGE_WORDS // 2:  # few spaces, many characters: runs of characters
        size = 3 * JUDGE_WORDS
        return [text[i:i + size] for i in [*range(0, len(text) - size, size // 2),
                                           max(0, len(text) - size)]]
    starts = [*range(0, len(tokens) - JUDGE_WORDS, JUDGE_WORDS // 2), len(tokens) - JUDGE_WORDS]
    return [" ".join(tokens[i:i + JUDGE_WORDS]) for i in starts]


def _judged(understanding: Understanding, clause: Clause, again: bool = False,
            cue: bool = False) -> Clause:
    return replace(clause, judged=_judge(understanding, clause, again, cue), unknown=0)


def needs_judge(clause: Clause) -> bool:
    """Whether the rules leave a clause to the sentence judge: it neither thanks, says it
    works, apologises or greets (or has too many unknown words for one that does), nor
    is it a name or a sign-off line."""
    if _own_anchor(clause):
        return clause.unknown > UNKNOWN_IN_CLAUSE
    return not (_name_like(clause.text) and clause.unknown <= UNKNOWN_ELSEWHERE)


def _read_alone(understanding: Understanding, clause: Clause) -> Clause:
    """A clause as it counts for the verdict: by its own words ("works on the laptop, the
    desktop shows a black screen" lends the second clause nothing). A clause that is
    neither anchored nor a name, or has too many unknown words, is news unless the
    sentence judge is confident it only says that things work ("Documents are signed")."""
    if clause.judged is not None:
        return clause
    if _SELF_INTRO.match(clause.text):  # "中村クリニックの中村です": who writes, not news
        return replace(clause, unknown=0)
    if not needs_judge(clause):
        return clause if _own_anchor(clause) else _unanchored(clause)
    score = _judge(understanding, clause)
    if score is not None:
        return replace(clause, judged=score, unknown=0)
    return clause if _own_anchor(clause) else _unanchored(clause)


def _with_rest(clauses: list[Clause], understanding: Understanding, rest: list[str],
               names: frozenset[str]) -> list[Clause] | Verdict:
    """The body's clauses, and what the signature below them says (its legal notices
    left out: they speak of errors and ask to notify the sender)."""
    late = _read_late(understanding, "\n".join(without_notices(rest)), names, "signature")
    return late if isinstance(late, Verdict) else clauses + late


def _own_anchor(clause: Clause) -> bool:
    """The clause itself thanks, says it works, apologises, greets or closes (or is a
    pleasantry with nothing else in it: "Have a good evening")."""
    anchors = clause.categories & _ANCHORS
    if anchors == {"closing"} and not _closes(clause):  # "0 kr" (kronor) is no "KR" sign-off
        anchors = frozenset()
    return bool(anchors) or _over(clause) or (
        "pleasantry" in clause.categories and clause.unknown <= 1) or clause.judged is not None


def _read_late(understanding: Understanding, text: str, names: frozenset[str],
               zone: str) -> list[Clause] | Verdict:
    """Text below the signature or the quoted history: only a question, a request or a
    problem counts (a signature's own words are unknown, not a reason to reopen), and an
    afterthought marker ("P.S.", "Nachtrag") makes what follows count in full."""
    clauses: list[Clause] = []
    afterthought = history = False
    lines = text.splitlines()
    for k, line in enumerate(lines):
        marker = AFTERTHOUGHT.match(line)
        if marker:  # "P.S. ...": from here on, read as the body is; what the writer says
            # they forgot is read by the rules alone (the judge read "Ještě jsem zapomněl"
            # and the fault after it as harmless)
            reader = Understanding(understanding.lexicon, None) if marker.group("forgot") \
                else understanding
            body = _read_body(reader, "\n".join(lines[k:]), names)
            if isinstance(body, Verdict):
                return Verdict(False, f"{body.reason} (in the {zone})")
            return clauses + body
        if (_register_line(line) or _firm_line(line)) and not afterthought:  # the firm's
            continue  # "NIP ... | KRS ...", "Eriksson El & Larm AB"
        # a quoted header, or a greeting to the writer themselves ("Salut Camille,"): the
        # old mail's text follows, not the writer's
        history = history or line.lstrip().startswith(">") or bool(
            names and line.rstrip().endswith(",") and len(line.split()) <= 4
            and understanding.clause(line).categories & {"greeting", "closing"}
            and names & {fold(w) for w in re.findall(r"[^\W\d_]+", line)})
        if zone == "signature" and not history and _prose(line) and not _notice(line):
            # a sentence below the contact lines that no firm's notice is: the customer's
            body = _read_body(understanding, line, names)
            if isinstance(body, Verdict):
                return Verdict(False, f"{body.reason} (below the signature)")
            clauses += body
            continue
        for raw in _CLAUSE.split(line):
            if not raw.strip():
                continue
            clause = understanding.clause(raw, names)
            afterthought = afterthought or "afterthought" in clause.categories
            why = substantive_reason(clause)
            # a signature's lines name people, firms and places; a sentence that asks for
            # something, reports a problem or says something does not work there is rare,
            # and it counts
            words = max(len(clause.text.split()), len(_JOINED_CHARS.findall(clause.text)) // 2)
            counts = afterthought or clause.question or "contrast" in clause.categories or (
                words >= 5 and clause.categories & {"request", "problem"}) or (
                words >= 3 and "solved" in clause.negated)
            if why and counts and not _looks_like_notice(clause) and not (
                    _word_cue(clause, why) and _judge(understanding, clause, cue=True)):
                return Verdict(False, f"{why} in the {zone}: {clause.text[:80]!r}")
            if afterthought:
                clauses.append(_without_names(clause, names))
    return clauses


def _verdict(clauses: list[Clause]) -> Verdict:
    thanked = [c for c in clauses if c.categories & {"gratitude", "solved"} or _over(c)]
    # "👍" or "🙏" alone thanks (blind writers of two parts label it so); "ok" alone is a
    # bare word (below), and no gratitude sign at all is no thank-you
    if not any(re.search(r"[^\W\d_]", c.text) or "gratitude" in c.categories
               for c in thanked):
        return Verdict(False, "no word of thanks in the new text")
    if len(thanked) == 1 and "gratitude" not in thanked[0].categories and \
            len(thanked[0].text.split()) < 2:
        return Verdict(False, f"a bare {thanked[0].text!r} is no thank-you")
    if not thanked:
        return Verdict(False, "no thanks and no 'it works' in the new text")
    unknown = sum(c.unknown for c in clauses)
    busy = next((c for c in clauses if c.unknown > (
        UNKNOWN_IN_CLAUSE if _own_anchor(c) else UNKNOWN_ELSEWHERE) or (
        not _own_anchor(c) and not _name_like(c.text))), None)
    if busy is not None:
        return Verdict(False, f"more than thanks: {busy.text[:80]!r}")
    if unknown > UNKNOWN_WORDS:
        return Verdict(False, f"{unknown} words that are neither thanks nor pleasantries")
    said = sorted({k for c in clauses for k in c.categories & HARMLESS})
    judged = [c for c in clauses if c.judged is not None]
    model = "".join(f"; the sentence judge read {c.text[:60]!r} as harmless ({c.judged:.2f})"
                    for c in judged[:3])
    model += "".join(f"; a promise to write if it recurs: {c.text[:60]!r}"
                     for c in clauses if "promise" in c.categories)
    return Verdict(True, f"only {', '.join(said) or 'confirmations'}: "
                         f"{thanked[0].text[:60]!r}{model}",
                   tuple(c.text for c in thanked))


__all__ = ["Clause", "Understanding", "Verdict", "bottom_posted", "judge", "sentences",
           "substantive_reason", "understand", "unseen_history"]
