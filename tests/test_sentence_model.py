"""The sentence judge of the thank-you step: its file, its scores, and where it may decide."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from mailgate.quotes import reply_parts
from mailgate.replies import Understanding, judge
from mailgate.replies.lexicon import Lexicon, load_tables
from mailgate.replies.model import MAGIC, SentenceModel, features, to_bytes

ROOT = Path(__file__).resolve().parent.parent


def _always(harmless: bool, **header: float) -> SentenceModel:
    """A judge that finds every sentence harmless (or none): to test what it may overrule."""
    return SentenceModel.from_bytes(to_bytes(
        {"bias": 30.0 if harmless else -30.0, "threshold": 0.5, **header}, [0.0] * 64))


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon(load_tables())


def test_packaged_model_loads_and_is_small() -> None:
    data = resources.files("mailgate.data").joinpath("sentence_model.bin").read_bytes()
    assert len(data) < 2_000_000
    model = SentenceModel.load()
    assert 0.5 <= model.threshold <= 1.0
    assert len(model.weights) == model.buckets


def test_file_round_trip_keeps_header_and_scores() -> None:
    weights = [((k * 37) % 11 - 5) / 10 for k in range(4096)]
    data = to_bytes({"bias": -0.25, "threshold": 0.8, "note": "x"}, weights)
    model = SentenceModel.from_bytes(data)
    assert (model.bias, model.threshold, model.buckets) == (-0.25, 0.8, 4096)
    assert model.header["note"] == "x"
    again = SentenceModel.from_bytes(to_bytes(model.header, [
        model.weights[k] * model.scale for k in range(model.buckets)]))
    for text in ("Документы подписываются", "已经可以登录了", "the printer is broken"):
        assert 0.0 < model.score(text) < 1.0
        assert again.score(text) == pytest.approx(model.score(text), abs=1e-6)


@pytest.mark.parametrize("data", [b"PK\x03\x04", MAGIC + b"\x00\x00\x00\x02{}"])
def test_a_broken_model_file_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        SentenceModel.from_bytes(data)


def test_features_are_the_same_in_every_process() -> None:
    """crc32, not hash(): a model trained in one process scores the same in another."""
    code = ("from mailgate.replies.model import features; "
            "print(features('Alla bilar är nedladdade nu'))")
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}
                           ).stdout for seed in ("1", "2")}
    assert seen == {f"{features('Alla bilar är nedladdade nu')}\n"}


def test_the_verdict_says_the_judge_decided_and_its_score(lexicon: Lexicon) -> None:
    verdict = judge(Understanding(lexicon, _always(True)),
                    reply_parts("Tack! Alla bilar är nedladdade nu."))
    assert verdict.thanks_only
    assert "sentence judge read 'Alla bilar är nedladdade nu' as harmless (1.00)" in verdict.reason


def test_without_the_judge_unknown_words_are_news(lexicon: Lexicon) -> None:
    for model in (None, _always(False)):
        verdict = judge(Understanding(lexicon, model),
                        reply_parts("Tack! Alla bilar är nedladdade nu."))
        assert not verdict.thanks_only
        assert "more than thanks" in verdict.reason


@pytest.mark.parametrize("text", [
    "Thanks, but the export still fails",  # contrast
    "Danke. Drucker defekt",  # a live problem
    "Thanks. Could you also check Maria's account",  # a request
    "Merci. Ça ne marche toujours pas",  # a negated success
    "Спасибо. Когда будет готов отчёт?",  # a question
    "Takk. Utlogget igjen i dag",  # "again" without a success
    "Tack. Det fungerade i går",  # a partial success
    "Thanks. It would be great if the export also had dates",  # a wish
])
def test_the_judge_never_overrules_a_decisive_reason(lexicon: Lexicon, text: str) -> None:
    """Even a judge that finds everything harmless cannot keep these closed."""
    assert not judge(Understanding(lexicon, _always(True)), reply_parts(text)).thanks_only


def test_a_clause_longer_than_the_judge_reads_is_judged_in_parts(lexicon: Lexicon) -> None:
    """A clause of more than ``JUDGE_WORDS`` words is no longer news by its length alone:
    it is judged part by part, and kept closed only when the judge clears every part."""
    text = "Thanks. " + " ".join(["word"] * 13) + " and " + " ".join(["thing"] * 13)
    kept = judge(Understanding(lexicon, _always(True)), reply_parts(text))
    assert kept.thanks_only and "sentence judge" in kept.reason
    assert not judge(Understanding(lexicon, _always(False)), reply_parts(text)).thanks_only


@pytest.mark.parametrize("text", [
    "Thanks. Screen goes dark after lunch",
    "Tack. Skärmen flimrar",
    "Gracias. Pantalla parpadea",
    "Merci. Notre nouvelle collègue commence lundi",
    "Danke. Unsere neue Kollegin fängt am Montag an und braucht einen Zugang",
    "Thanks. xyzzy qwerty",
])
def test_the_packaged_judge_leaves_calm_news_to_the_engineer(text: str) -> None:
    assert not judge(Understanding.load(), reply_parts(text)).thanks_only


@pytest.mark.parametrize("text", [
    # "Документы теперь подписываются" scores 0.68 with the fifth round's file and reopens
    # (0.67 without "теперь" with the fourth's): the judge is not sure of every wording
    "Спасибо! Все документы подписались.",
    "Tack! Alla bilar är nedladdade nu.",
    "谢谢！已经可以登录了",
    "Obrigada! Já consigo emitir as notas.",
])
def test_the_packaged_judge_reads_confirmations_in_own_words(text: str) -> None:
    verdict = judge(Understanding.load(), reply_parts(text))
    assert verdict.thanks_only and "sentence judge" in verdict.reason


#: "again" with a verb no list knows: the judge decides it only by the file's own "again"
#: threshold (a file without one leaves "again" to the rules: it reopens)
BARE_AGAIN = ["Tack! Bokningarna strömmar till igen.", "Thanks! The orders trickle in again.",
              "Danke! Die Buchungen trudeln wieder ein."]


@pytest.mark.parametrize("text", BARE_AGAIN)
def test_a_bare_again_clause_is_judged_only_by_its_own_threshold(
        lexicon: Lexicon, text: str) -> None:
    assert not judge(Understanding(lexicon, _always(True)), reply_parts(text)).thanks_only
    strict = SentenceModel.from_bytes(to_bytes(  # scores 0.73: above 0.5, under 0.9
        {"bias": 1.0, "threshold": 0.5, "again_threshold": 0.9}, [0.0] * 64))
    assert not judge(Understanding(lexicon, strict), reply_parts(text)).thanks_only
    assert judge(Understanding(lexicon, strict), reply_parts("Tack! Alla bilar är nedladdade nu.")
                 ).thanks_only
    verdict = judge(Understanding(lexicon, _always(True, again_threshold=0.5)), reply_parts(text))
    assert verdict.thanks_only and "sentence judge read" in verdict.reason


@pytest.mark.parametrize("text", [
    "Takk. Utlogget igjen i dag",  # a problem word beside "again"
    "Thanks, locked out again",
    "Tack. Det fungerade igen i går",  # a qualifier
    "Danke. Nicht schon wieder",  # a negation
    "Thanks, but the orders trickle in again",  # contrast
])
def test_again_beside_a_problem_negation_or_qualifier_is_never_judged(
        lexicon: Lexicon, text: str) -> None:
    understanding = Understanding(lexicon, _always(True, again_threshold=0.5))
    assert not judge(understanding, reply_parts(text)).thanks_only


#: clauses the rules reopen only for one word of the lexicon (a request, "still" or
#: interrogative word, no question mark): the judge decides them by the file's cue threshold
WORD_CUES = ["Dank je wel! Prettige avond nog.", "Tack! Vad skönt."]


@pytest.mark.parametrize("text", WORD_CUES)
def test_a_word_cue_is_judged_only_by_its_own_threshold(lexicon: Lexicon, text: str) -> None:
    assert not judge(Understanding(lexicon, _always(True)), reply_parts(text)).thanks_only
    strict = SentenceModel.from_bytes(to_bytes(  # scores 0.73: above 0.5, under 0.9
        {"bias": 1.0, "threshold": 0.5, "cue_threshold": 0.9}, [0.0] * 64))
    assert not judge(Understanding(lexicon, strict), reply_parts(text)).thanks_only
    verdict = judge(Understanding(lexicon, _always(True, cue_threshold=0.5)), reply_parts(text))
    assert verdict.thanks_only and "sentence judge read" in verdict.reason


@pytest.mark.parametrize("text", [
    "Thanks. Could you also check Maria's account?",  # a question mark
    "Thanks, but the export still fails",  # a live problem beside the cue
    "Danke, aber es funktioniert immer noch nicht",  # a negated success beside it
    "Takk, men vi er utlogget igjen",  # "again" beside it
])
def test_a_word_cue_beside_a_decisive_reason_is_never_judged(lexicon: Lexicon,
                                                             text: str) -> None:
    understanding = Understanding(lexicon, _always(True, cue_threshold=0.5))
    assert not judge(understanding, reply_parts(text)).thanks_only


def test_a_clause_naming_a_problem_must_clear_the_problem_threshold(lexicon: Lexicon) -> None:
    """A long clause with a problem word the rules read as negated goes to the judge; the
    file's problem threshold is its bar (the negation may bind the wrong word)."""
    text = "Danke! Das Team im Lager scannte heute Vormittag sämtliche Pakete ohne einzigen Fehler."
    assert judge(Understanding(lexicon, _always(True)), reply_parts(text)).thanks_only
    strict = SentenceModel.from_bytes(to_bytes(  # scores 0.73
        {"bias": 1.0, "threshold": 0.5, "problem_threshold": 0.9}, [0.0] * 64))
    assert not judge(Understanding(lexicon, strict), reply_parts(text)).thanks_only



@pytest.mark.parametrize(("sender", "text"), [
    ("Ahmet Yılmaz", "Çok teşekkürler, her şey yolunda!\n\nAhmet Yılmaz\nYılmaz Gıda A.Ş.\n\n"
                     "Not: yazıcı yine arızalı."),
    ("Lucía Gómez", "¡Muchas gracias!\n\nLucía Gómez\nGómez Asesores S.L.\n\n"
                    "Nota: el escáner falla."),
    ("Jonas Weber", "Vielen Dank!\n\nJonas Weber\nWeber Logistik GmbH\n\n"
                    "Hinweis: Drucker defekt."),
    ("Claire Martin", "Merci beaucoup !\n\nClaire Martin\nMartin Conseil SARL\n\n"
                      "Remarque : imprimante en panne."),
])
def test_a_note_marker_below_the_signature_is_read_as_the_body(
        lexicon: Lexicon, sender: str, text: str) -> None:
    """A "Not:", "Nota:", "Uwaga:" line below the signature is an afterthought like "P.S.":
    its problem counts even when the judge would clear everything (it is no firm's line)."""
    understanding = Understanding(lexicon, _always(True))
    assert not judge(understanding, reply_parts(text), sender).thanks_only


def test_trainer_margin_needs_two_replies() -> None:
    """``tools/train_sentences.py``: one cross-fitted lost reopen binds the threshold just
    above itself; the margin step above that is earned by two or more (one reply at 0.68
    used to move the shipped main threshold from 0.65 to 0.75)."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from train_sentences import GRID, safe
    finally:
        sys.path.remove(str(ROOT / "tools"))

    def sweep(added: dict[float, int]) -> list[dict[float, dict[str, list[str]]]]:
        return [{t: {"added": ["lost"] * added.get(t, 0)} for t in GRID}]

    one = {0.5: 1, 0.6: 1, 0.65: 1}  # a single reply judged 0.68
    two = {0.5: 2, 0.6: 2, 0.65: 2}  # two replies judged 0.66 and 0.68
    assert safe(sweep(one)) == 0.7
    assert safe(sweep(two)) == 0.75
    assert safe(sweep({0.5: 8})) == 0.65  # many below 0.6: one step above the lowest safe
    assert safe(sweep({0.5: 8}), margin=0) == 0.6
    assert safe(sweep({})) == 0.6  # none at all: the lowest value plus the margin
