"""Terms of Chinese, Japanese and Korean text, for the repeat-report step.

The step (``mailgate.repeats``) compares mails by words found between spaces and cut to
a crude stem. Chinese and Japanese put no spaces between words, so a whole clause
("打印机无法打印") was one "word" cut to its first five characters: two reports of one
problem shared nothing, and Korean words carry their particles ("프린터가", "프린터는").
What this module gives instead, per script run of a token:

- Han (Chinese characters, Japanese kanji): the character bigrams of each run ("打印",
  "印机"), weighed ``BIGRAM`` (half a word: a word of three characters gives two
  overlapping bigrams, so about one word's weight);
- katakana (Japanese loanwords: "プリンター", "パスワード"): the run as one word, without
  its long-vowel mark at the end ("プリンタ" meets "プリンター");
- Hangul (Korean): the word's first two syllables ("프린터가" -> "프린", "반송된다고" ->
  "반송"): Korean nouns are mostly two syllables, and what follows is particles and
  endings;
- hiragana (Japanese grammar: particles, verb endings) gives no term.

The bigrams and words common to any support mail of these languages ("问题" problem,
"今天" today, "確認", "부탁") are stop words of ``mailgate/data/repeat_words.toml``
(``[stop] zh``, ``ja``, ``ko``): they would tie two different problems of one sender.
No dictionary, no segmenter: no dependency for three languages' worth of crude terms.
"""

from __future__ import annotations

import re

#: Han (with the iteration mark), hiragana, katakana (with the long-vowel mark), Hangul.
_RUN = re.compile(r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]+)|"
                  r"(?P<hira>[\u3040-\u309f]+)|(?P<kata>[\u30a0-\u30ff\uff66-\uff9f]+)|"
                  r"(?P<hangul>[\uac00-\ud7af]+)")
_ANY = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
#: A Han bigram's weight: half a content word.
BIGRAM = 0.5
WORD = 1.0


def has_cjk(text: str) -> bool:
    """Whether the text has a Chinese, Japanese or Korean character."""
    return _ANY.search(text) is not None


def terms(token: str, stop: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
    """The (term, weight) pairs of a token with CJK characters (see the module's
    docstring), none in ``stop``; the token's other runs (Latin letters, digits) are left to
    the caller. A Han run is cut where a stop bigram stands ("打印机无法打印": "打印机",
    "打印"), so no bigram straddles "无法" ("机无", "法打": two words' halves); so is it at a
    stop character (a Chinese function word: "的", "了", "我")."""
    found: list[tuple[str, float]] = []
    for run in _RUN.finditer(token):
        text = run.group(0)
        if run.lastgroup == "han":
            for piece in _cut(text, stop):
                found.extend((piece[i:i + 2], BIGRAM) for i in range(len(piece) - 1))
        elif run.lastgroup == "kata":
            word = text.rstrip("ー")
            if len(word) >= 3:
                found.append((word, WORD))
        elif run.lastgroup == "hangul" and len(text) >= 2:
            found.append((text[:2], WORD))
    return found


def _cut(run: str, stop: frozenset[str]) -> list[str]:
    """The pieces of a Han run between its stop bigrams and stop characters ("的", "了",
    "我": Chinese function words)."""
    pieces, start, i = [], 0, 0
    while i < len(run):
        if run[i] in stop:
            pieces.append(run[start:i])
            start = i = i + 1
        elif run[i:i + 2] in stop and i < len(run) - 1:
            pieces.append(run[start:i])
            start = i = i + 2
        else:
            i += 1
    pieces.append(run[start:])
    return [p for p in pieces if len(p) >= 2]


_BOUNDARY = re.compile(r"(?<=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])"
                       r"(?=[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])|"
                       r"(?<=[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])"
                       r"(?=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])")


def spaced(text: str) -> str:
    """The text with a space where CJK script meets another ("ロビーのWi-Fiが" -> "ロビーの
    Wi-Fi が"), so a Latin word of the lexicon is a whole word there too."""
    return _BOUNDARY.sub(" ", text) if has_cjk(text) else text


def others(token: str) -> list[str]:
    """The parts of a token that are no CJK script ("502", "Wi-Fi" of "Wi-Fiが遅い")."""
    return [p for p in _RUN.sub(" ", token).split() if p.strip("-_.")]


_NAME_LINE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,4}$")


def name_line(line: str) -> bool:
    """A short trailing line of two to four Han or Hangul characters alone: a signature
    ("王丽", "田中", "김민수"), not the problem."""
    return _NAME_LINE.match(line.strip()) is not None


def needle(phrase: str) -> bool:
    """Whether a phrase is written in CJK script, so is looked for inside words (these
    languages join words without spaces): "无法" in "打印机无法打印"."""
    return has_cjk(phrase)
