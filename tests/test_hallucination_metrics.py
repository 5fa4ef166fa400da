"""Known answers for the hallucination suite's metric functions (issue 5)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from harness.measures.answers import (
    DEFAULT_RULE,
    AbstentionRule,
    compute_f1,
    fold_quotes,
    gold_answers,
    is_abstention,
    normalize_answer,
    normalize_folded,
)
from harness.stats import wilson_interval
from test_suites.hallucination.metrics import (
    claims,
    content_tokens,
    disagreement_rate,
    exact_match,
    f1,
    groundedness,
    hallucination_rate,
    over_refusal_rate,
    pairwise_agreement,
    qa_scores,
    rate_with_interval,
    unsupported_claims,
)

# --------------------------------------------------------------------------------------------------
# SQuAD 2.0 dev half (the mirror)


@pytest.fixture(scope="module")
def squad(mirror: Path):
    path = mirror / "squad2_dev_half.json"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing under CI")
        pytest.skip(f"{path} is absent")
    data = json.loads(path.read_text(encoding="utf-8"))
    items = [(qa["question"], [a["text"] for a in qa["answers"]], not qa["is_impossible"])
             for article in data["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    refs = [r for _, r, _ in items]
    answerable = np.array([a for _, _, a in items])
    return refs, answerable


def test_squad_always_abstain(squad):
    refs, answerable = squad
    assert len(refs) == 6078 and int((~answerable).sum()) == 3168
    for answer in ("", "I don't know."):
        preds = [answer] * len(refs)
        em, f = qa_scores(preds, refs)
        assert int(em.sum()) == 3168
        assert em.mean() == pytest.approx(0.521, abs=5e-4)
        assert f.sum() == 3168
        assert hallucination_rate(preds, answerable) == (0.0, 0, 3168)
        assert over_refusal_rate(preds, answerable) == (1.0, 2910, 2910)


def test_squad_first_reference_is_perfect_on_answerable(squad):
    refs, answerable = squad
    idx = np.flatnonzero(answerable)
    preds = [refs[i][0] for i in idx]
    em, f = qa_scores(preds, [refs[i] for i in idx])
    assert em.mean() == 1.0 and f.mean() == 1.0
    # no reference answer of the data set reads as an abstention under the default phrases (three
    # references are ".", which the official script drops as normalising to "")
    assert not any(is_abstention(r) for i in idx for r in gold_answers(refs[i]))
    assert over_refusal_rate(preds, np.ones(len(idx), bool)) == (0.0, 0, 2910)


def test_squad_fixed_wrong_span_hallucinates_every_unanswerable(squad):
    refs, answerable = squad
    preds = [r[0] if ok else "the city council" for r, ok in zip(refs, answerable, strict=True)]
    assert hallucination_rate(preds, answerable) == (1.0, 3168, 3168)
    em, _ = qa_scores(preds, refs)
    assert int(em.sum()) == 2910  # right on every answerable item, wrong on every unanswerable one


# --------------------------------------------------------------------------------------------------
# The official script's semantics


def test_normalize_answer():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("theater") == "theater"  # articles only as whole words
    assert normalize_answer("Don't") == "dont"
    assert normalize_answer("  . the ") == ""


def test_folded_normalisation_reads_typographic_quotes_as_ascii():
    """What the abstention rule and the bias suite's word comparison see: "don’t" and "don't" are one word."""
    assert fold_quotes("\u2018Don\u2019t\u2019 \u201cknow\u201d 5\u2032") == "'Don't' \"know\" 5'"
    assert normalize_answer("Don\u2019t") == "don\u2019t"  # the official script keeps the typographic quote
    assert normalize_folded("The answer: I DON\u2019T know.") == "answer i dont know"
    assert normalize_folded(None) == normalize_folded("") == ""


def test_exact_match_and_f1_hand_computed():
    assert f1("the cat sat", ["a cat sat down"]) == pytest.approx(0.8)  # 2 * (1 * 2/3) / (1 + 2/3)
    assert compute_f1("a cat sat down", "the cat sat") == pytest.approx(0.8)
    assert exact_match("The Cat sat.", ["cat sat"]) == 1
    assert exact_match("the cat sat", ["a cat sat down"]) == 0
    assert f1("cat", ["dog"]) == 0.0
    # precision 1/4, recall 1/1 -> 0.4
    assert f1("the dog barked loudly today", ["dog"]) == pytest.approx(2 * 0.25 / 1.25)


def test_multi_reference_max():
    refs = ["Denver Broncos", "the Broncos", "Broncos team"]
    assert exact_match("Broncos", refs) == 1
    assert f1("Denver", refs) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1("Broncos team", ["Denver Broncos", "Broncos team"]) == 1.0


def test_unanswerable_scoring():
    assert exact_match("", []) == 1 and f1("", []) == 1.0
    assert exact_match("Paris", []) == 0 and f1("Paris", []) == 0.0
    assert exact_match("I don't know", []) == 1 and f1("I do not know.", []) == 1.0
    # references that normalise to nothing are dropped, as the script does
    assert exact_match("", ["the", "."]) == 1
    # on an answerable item the empty answer and an abstention score 0
    assert exact_match("", ["Paris"]) == 0 and f1("Cannot answer from the context.", ["Paris"]) == 0.0
    # rule=None is the raw script: the abstention text is scored as an answer
    assert exact_match("I don't know", [], rule=None) == 0


# --------------------------------------------------------------------------------------------------
# Abstention and rates


def test_is_abstention():
    for a in ("", "   ", None, "...", "I don't know.", "I DON’T KNOW", "The context does not say.",
              "This cannot be answered from the passage.", "Unanswerable", "That is not mentioned."):
        assert is_abstention(a), a
    for a in ("Paris", "the city council", "I know: Paris", "unknown or unexplored territory", "None",
              "what computers can and cannot do"):
        assert not is_abstention(a), a
    rule = AbstentionRule(phrases=("no comment",), empty_is_abstention=False)
    assert not is_abstention("", rule) and is_abstention("No comment!", rule)
    assert not is_abstention("I don't know", rule)
    assert "i don't know" in DEFAULT_RULE.phrases
    with pytest.raises(ValueError):
        AbstentionRule(phrases=("the",))


def test_rates():
    answers = ["Paris", "", "I don't know", "42", "not stated", "Lyon"]
    answerable = [True, True, False, False, False, True]
    assert hallucination_rate(answers, answerable) == (pytest.approx(1 / 3), 1, 3)
    assert over_refusal_rate(answers, answerable) == (pytest.approx(1 / 3), 1, 3)
    rate, k, n = hallucination_rate(["a"], [True])
    assert math.isnan(rate) and (k, n) == (0, 0)
    with pytest.raises(ValueError):
        hallucination_rate(["a"], [True, False])


def test_rate_with_interval():
    rate, lo, hi = rate_with_interval(3, 10)
    elo, ehi = wilson_interval(3, 10)
    assert rate == 0.3 and lo == pytest.approx(float(elo)) and hi == pytest.approx(float(ehi))
    assert lo == pytest.approx(0.1078, abs=1e-4) and hi == pytest.approx(0.6032, abs=1e-4)
    assert all(math.isnan(v) for v in rate_with_interval(0, 0))


# --------------------------------------------------------------------------------------------------
# Claims and groundedness


def _kinds(text: str) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in claims(text)]


def test_claim_extraction():
    assert _kinds("The hearing is on March 3, 2026 at 7:30 a.m. with Dr. Maria Lopez of the Department of "
                  "Transportation.") == [("date", "March 3, 2026"), ("time", "7:30 a.m."),
                                         ("name", "Dr. Maria Lopez"), ("name", "Department of Transportation")]
    assert _kinds("Call (212) 555-0123 or 311. The fee is $1,250.00, up 15% from 2025.") == [
        ("phone", "(212) 555-0123"), ("number", "311"), ("number", "$1,250.00"), ("number", "15%"),
        ("number", "2025")]
    assert _kinds("Yes. It opens 3/14/2026, 2026-03-14 or on Tuesdays at 19:30.") == [
        ("date", "3/14/2026"), ("date", "2026-03-14"), ("date", "Tuesdays"), ("time", "19:30")]
    # a single capitalised word opening a sentence is not a name; "May" alone is not a date
    assert claims("Paris.") == [] and claims("You may apply. However, I think so.") == []
    keys = {c.text: c.key for c in claims("It was $1.2 million, 2.5 percent, in April, Jan. 2026, the 3rd of March.")}
    assert keys == {"$1.2 million": 1.2e6, "2.5 percent": 2.5, "April": (None, 4, None),
                    "Jan. 2026": (2026, 1, None), "3rd of March": (None, 3, 3)}
    assert claims("") == [] and claims(None) == []


def test_unsupported_claims():
    context = ("The permit fee is 1,250 dollars, due by March 3, 2026. Applications open on Monday at 9:00. "
               "Director Maria Lopez approved the budget of 4.5 million. Call 212-555-0123.")
    # "$1,250" is supported by "1,250 dollars": amounts are compared by value, the currency is not checked
    assert unsupported_claims("The fee is $1,250.", context) == []
    assert unsupported_claims("It is 1250 USD, due 3/3/2026, from Monday at 9 a.m.", context) == []
    assert unsupported_claims("Maria Lopez, $4,500,000, (212) 555-0123", context) == []
    # a wrong date, a fabricated name and a wrong number are flagged; present ones are not
    flagged = unsupported_claims("Pay $1,250 by March 4, 2026 to Director John Smith; Maria Lopez signs. "
                                 "It costs 300.", context)
    assert [(c.kind, c.text) for c in flagged] == [("date", "March 4, 2026"), ("name", "Director John Smith"),
                                                   ("number", "300")]
    assert [c.text for c in unsupported_claims("Applications open Friday at 9:30.", context)] == ["Friday", "9:30"]
    # names are matched case-insensitively, but all of them: "John Lopez" is not "Maria Lopez"
    assert unsupported_claims("ask MARIA LOPEZ", "maria lopez") == []
    assert [c.text for c in unsupported_claims("ask John Lopez", context)] == ["John Lopez"]


def test_groundedness():
    context = "The city council meets on the first Tuesday of each month in City Hall."
    assert groundedness("", context) == 1.0
    assert groundedness("I don't know", context) == 1.0
    assert groundedness("The council meets in City Hall", context) == 1.0
    # content tokens: council, meets, in the basement -> council, meets, basement: 2 of 3 present
    assert content_tokens("The council meets in the basement") == ["council", "meets", "basement"]
    assert groundedness("The council meets in the basement", context) == pytest.approx(2 / 3)
    assert groundedness("I don't know", context, rule=None) == 0.0  # "dont", "know" not in the context


# --------------------------------------------------------------------------------------------------
# Consistency


def test_disagreement_and_pairwise_agreement():
    groups = [
        ["Paris", "paris.", "The Paris"],          # all equal after normalisation
        ["Paris", "Lyon", "Paris"],                # disagree: 1 of 3 pairs agree
        ["I don't know", "", "not stated"],        # abstentions are all ""
        ["42", "43"],                              # disagree: 0 of 1 pair
        ["alone"],                                 # too small: left out
    ]
    assert disagreement_rate(groups) == (0.5, 2, 4)
    assert pairwise_agreement(groups) == pytest.approx((1 + 1 / 3 + 1 + 0) / 4)
    assert disagreement_rate([["I don't know", ""]], rule=None) == (1.0, 1, 1)
    assert math.isnan(pairwise_agreement([["x"]]))
    assert math.isnan(disagreement_rate([])[0])
