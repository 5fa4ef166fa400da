"""Two sample question-answering tools for the `city-services-qa` reference data (issue 5).

Both answer a question from the context paragraph they are given, by extraction: they never write text of
their own. They exist so the demo and the tests have a generative tool that should pass the hallucination
suite and one that must fail it; neither is a product.

`answer_baseline(context, question)`, the extractive baseline
    1. abstains at once when the question asks about something the page never mentions: a content word of
       the question (`content_words`: not a stopword, not a word naming the kind of answer such as "cost"
       or "phone") that occurs nowhere in the context (`unknown_words`: "demolition", "fax");
    2. splits the context into sentences (`split_sentences`) and keeps those that could hold the kind of
       answer asked for (`answer_kind`, `has_answer_kind`: a question asking for an amount needs a sentence
       with a figure, one asking for a phone number a sentence with a phone number, ...), that repeat every
       number and year the question names ("in 2027", "a 20-gallon cart", "a household of three"), and
       that are not private (`private`: marked confidential or "do not disclose", or holding a social
       security number; policy Safety clause, "must not leak ... sensitive data");
    3. of those, picks the sentence most similar to the question by TF-IDF cosine similarity (`Page`:
       scikit-learn's vectoriser fitted on the page's sentences) and answers with it verbatim when the
       similarity is at least `SIMILARITY_THRESHOLD`, else abstains with `ABSTAIN` ("I don't know.").
    Steps 1 and 2 keep it from answering what the page does not say: the dataset's unanswerable questions
    are deliberately close to the page ("the fee for a commercial permit" on a page that gives only the
    residential fee), where similarity alone cannot tell them apart (with step 3 alone, getting under 20
    hallucinations takes a threshold of 0.60, which declines 119 of the 156 answerable questions).

`answer_careless(context, question)`, the careless variant
    Picks the most similar sentence without steps 1 and 2 and without a threshold (it answers every
    question, never abstains) and alters every number and proper name in it (`alter`): a deterministic
    rewrite seeded by the question's text, so the same question always gets the same wrong answer, and a
    reworded one a different wrong answer. It hallucinates on every unanswerable question and states figures
    and names the context does not support.

Tuning (in-sample; reproduce with `python qa_tools.py --tune`): the rules of steps 1 and 2 were written by
reading the questions, and `SIMILARITY_THRESHOLD` was chosen by a sweep over 0.00, 0.05, ..., 0.40 on all 276
items of city-services-qa using only their `answerable` flags (never item ids or reference answers): the
threshold with the fewest over-refusals among those whose hallucination rate has a 95 % Wilson upper bound
under 0.15 (the default policy's limit for a medium-risk tool). At 0.20 the baseline answers 10 of the 120
unanswerable questions (8.3 %, 95 % CI 4.6-14.7 %) and declines 53 of the 156 answerable ones (34.0 %); all
its answers are verbatim sentences of the page, so none states an unsupported claim. These figures are
in-sample: on new pages expect worse, one reason the manifest has a call-taker check every answer.
"""
from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ABSTAIN = "I don't know."
SIMILARITY_THRESHOLD = 0.20

# ----------------------------------------------------------------------------------------------------------
# Sentences and words

_ABBREVIATIONS = ("Dr", "Mr", "Mrs", "Ms", "St", "No", "Ave", "Rd", "Jr", "Sr", "Inc", "vs", "Mt", "Ft")
_ENDS_WITH_ABBREVIATION = re.compile(r"\b(?:" + "|".join(_ABBREVIATIONS) + r")\.$")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph: a break after . ! or ? followed by a capital, digit or bracket, except after
    a title or street abbreviation ("Dr. Pettigrove", "Main St. north"). "8:00 a.m. to" stays whole because
    a lower-case word follows; "4:30 p.m. Questions" is split, as it should be."""
    out: list[str] = []
    for part in _SENTENCE_BREAK.split((text or "").strip()):
        if out and _ENDS_WITH_ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return out


def _stem(word: str) -> str:
    """Plural to singular, nothing more ("permits" -> "permit", "fees" -> "fee", "cities" -> "city")."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case word and number tokens, plurals folded; the TF-IDF vectoriser's tokenizer."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _words("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
out over own same she should so some such than that the their them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your yours
""")
# words that say what kind of answer is wanted rather than what it is about
_QUESTION_WORDS = _words("""
much many long often soon quickly cost costs charge charged pay paid price fee get take takes need needed must may
city date time day phone number email address value amount kind type share happen
""")
_STOP_TOKENS = frozenset(_stem(w) for w in _STOPWORDS)


def content_words(question: str) -> list[str]:
    """What the question is about: its tokens minus stopwords and words naming the answer's kind."""
    skip = _STOP_TOKENS | {_stem(w) for w in _QUESTION_WORDS}
    return [t for t in tokens(question) if t not in skip]


# ----------------------------------------------------------------------------------------------------------
# The answer-type rule

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_HAS = {
    "phone": re.compile(r"\(\d{3}\)\s?\d{3}-\d{4}|\b\d{3}[-.]\d{3}[-.]\d{4}\b|\b311\b"),
    "email": re.compile(r"\S+@\S+|\bwww\.\S+|https?://\S+|\b[\w-]+\.(?:gov|org|com|example)\b"),
    "time": re.compile(r"\d\s?[ap]\.?m\b|\b\d{1,2}:\d{2}\b|\bnoon\b|\bmidnight\b|\b24 hours\b", re.IGNORECASE),
    "money": re.compile(r"\$\s?\d|\bfree\b|\bno (?:fee|charge|cost)\b", re.IGNORECASE),
    "number": re.compile(r"\d|\b(?:" + "|".join(_NUMBER_WORDS) + r"|once|twice|half)\b", re.IGNORECASE),
    "date": re.compile(rf"\b(?:{_MONTHS}|{_WEEKDAYS})s?\b|\b(?:19|20)\d\d\b|\b(?:daily|weekly|weekdays?|weekends?)\b",
                       re.IGNORECASE),
    "name": re.compile(r"\b[A-Z][a-z]+\.? [A-Z][a-z]+"),
}
_HAS["when"] = re.compile(f"{_HAS['date'].pattern}|{_HAS['time'].pattern}", re.IGNORECASE)
# first match wins; each asks for a sentence that `_HAS[kind]` matches
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("phone", re.compile(r"\bphone\b|\btelephone\b|\bwhat number\b|\bnumber (?:do|should) (?:i|you) call\b|"
                         r"\bwhich number\b|\bnumber takes\b", re.IGNORECASE)),
    ("email", re.compile(r"\be-?mail\b|\bwebsite\b|\bweb site\b|\burl\b", re.IGNORECASE)),
    ("when", re.compile(r"^\s*when\b|\bwhat (?:date|day|year|month)\b|\bwhich day\b|\bdeadline\b|\bdue\b",
                        re.IGNORECASE)),
    ("money", re.compile(r"\bhow much\b|\bcosts?\b|\bfees?\b|\bfines?\b|\bprice\b|\bcharged?\b|\bfares?\b|"
                         r"\bpenalty\b|\bpays?\b|\bcredit\b|\bfunding\b", re.IGNORECASE)),
    ("time", re.compile(r"\bhours\b|\bwhat time\b", re.IGNORECASE)),
    ("number", re.compile(r"\bhow (?:many|long|often|old|far|high|tall|wide|large|big|recent|soon|quickly)\b|"
                          r"\bwhat (?:share|percent|percentage|age)\b|\bminimum\b|\bmaximum\b|\blimit\b",
                          re.IGNORECASE)),
    ("name", re.compile(r"^\s*who\b", re.IGNORECASE)),
)


def answer_kind(question: str) -> str | None:
    """The kind of answer a question asks for: phone, email, when (a date or a time), money, time, number,
    name, or None (any sentence may answer)."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def has_answer_kind(kind: str | None, sentence: str) -> bool:
    """Whether a sentence could answer a question asking for `kind` (any sentence can when kind is None)."""
    return kind is None or bool(_HAS[kind].search(sentence))


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _figures(text: str) -> set[str]:
    lower = text.lower()
    words = {w for w in re.findall(r"[a-z]+", lower) if w in _NUMBER_WORDS}
    return {n.replace(",", "") for n in _NUMBER.findall(lower)} | words


def names_figures_of(question: str, sentence: str) -> bool:
    """Every number, year and number word of the question ("2027", "20-gallon", "three") is in the sentence."""
    return _figures(question) <= _figures(sentence)


_PRIVATE = re.compile(r"\bconfidential\b|\bdo not (?:disclose|share|repeat)\b|\b\d{3}-\d{2}-\d{4}\b", re.IGNORECASE)


def private(sentence: str) -> bool:
    """A sentence the baseline never quotes: one marked confidential or "do not disclose", or holding a social
    security number (policy Safety clause: systems "must not leak ... sensitive data")."""
    return bool(_PRIVATE.search(sentence))


# ----------------------------------------------------------------------------------------------------------
# Retrieval

@dataclass(frozen=True)
class Page:
    """A context split into sentences with their TF-IDF vectors (scikit-learn's `TfidfVectorizer` fitted on
    the sentences: sublinear term frequency, smoothed IDF, rows L2-normalised), made once per page."""

    sentences: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray
    matrix: np.ndarray  # sentences x terms

    def similarities(self, question: str) -> np.ndarray:
        """Cosine similarity of the question to each sentence: the question weighted as `TfidfVectorizer.
        transform` would (terms the page lacks carry no weight), computed directly because this runs for
        every question and sklearn's input checks cost more than the arithmetic."""
        counts = Counter(t for t in tokens(question) if t in self.vocabulary)
        if not counts:
            return np.zeros(len(self.sentences))
        columns = [self.vocabulary[t] for t in counts]
        weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=float))) * self.idf[columns]
        return self.matrix[:, columns] @ (weights / np.linalg.norm(weights))


@lru_cache(maxsize=512)
def page(context: str) -> Page:
    """The `Page` of a context, cached: a page is asked many questions (and the same question again)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    sentences = tuple(split_sentences(context))
    vectoriser = TfidfVectorizer(tokenizer=tokens, token_pattern=None, lowercase=False,
                                 stop_words=sorted(_STOP_TOKENS), sublinear_tf=True)
    try:
        matrix = vectoriser.fit_transform(sentences).toarray()
    except ValueError:  # no sentence, or nothing but stopwords: no vocabulary, nothing is similar
        return Page(sentences, {}, np.zeros(0), np.zeros((len(sentences), 0)))
    return Page(sentences, dict(vectoriser.vocabulary_), vectoriser.idf_, matrix)


def unknown_words(context: str, question: str) -> list[str]:
    """The question's content words (`content_words`) that occur nowhere in the context: what the question
    asks about that the page never mentions ("demolition", "fax")."""
    known = set(tokens(context))
    return [w for w in content_words(question) if w not in known]


def retrieve(context: str, question: str, *, typed: bool = True) -> tuple[str | None, float]:
    """(best sentence, its similarity); the sentence is None when no sentence qualifies. `typed=False`
    skips the answer-type and figure rules (the careless tool)."""
    p = page(context)
    sentences = p.sentences
    if not sentences:
        return None, 0.0
    sims = p.similarities(question)
    kind = answer_kind(question)
    candidates = [i for i, s in enumerate(sentences)
                  if not typed or (has_answer_kind(kind, s) and names_figures_of(question, s) and not private(s))]
    if not candidates:
        return None, 0.0
    best = max(candidates, key=lambda i: (sims[i], -i))  # ties: the earlier sentence
    return sentences[best], float(sims[best])


def candidate(context: str, question: str) -> tuple[str | None, float]:
    """The baseline's best sentence and its similarity before the threshold: None when the page never
    mentions something the question asks about (`unknown_words`) or no sentence qualifies (`retrieve`)."""
    if unknown_words(context, question):
        return None, 0.0
    return retrieve(context, question)


def answer_baseline(context: str, question: str, *, threshold: float = SIMILARITY_THRESHOLD) -> str:
    """The extractive baseline: the best qualifying sentence verbatim, or `ABSTAIN` when there is none or its
    similarity to the question is below `threshold`."""
    sentence, similarity = candidate(context, question)
    if sentence is None or similarity < threshold:
        return ABSTAIN
    return sentence


# ----------------------------------------------------------------------------------------------------------
# The careless variant

_FAKE_NAMES = ("Harlow", "Brennick", "Castellane", "Odrey", "Winterbourne", "Maplestead", "Quorra", "Thistlewood",
               "Ardency", "Pellworth", "Vantreece", "Glenmoor")
_CAPITAL_RUN = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|the\s+)?[A-Z][a-z]+)*")
_ANY_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _seed(question: str) -> int:
    return zlib.crc32(question.strip().lower().encode())


def alter(sentence: str, question: str) -> str:
    """Change every number (each digit run shifted by a seeded non-zero offset, format kept) and every run of
    capitalised words after the sentence's first word (replaced by an invented name). Seeded by the question
    text, so the rewrite is deterministic."""
    import random

    rng = random.Random(_seed(question))

    def number(m: re.Match[str]) -> str:
        return re.sub(r"\d+", lambda d: str(int(d.group(0)) + rng.randint(1, 9)).zfill(len(d.group(0))), m.group(0))

    def name(m: re.Match[str]) -> str:
        if m.start() == 0:  # the sentence's first word is capitalised anyway
            return m.group(0)
        return " ".join(rng.sample(_FAKE_NAMES, min(2, len(m.group(0).split()))))

    return _CAPITAL_RUN.sub(name, _ANY_NUMBER.sub(number, sentence))


def answer_careless(context: str, question: str) -> str:
    """The careless variant: the most similar sentence, numbers and names altered; never abstains."""
    sentence, _ = retrieve(context, question, typed=False)
    return alter(sentence or context, question)


# ----------------------------------------------------------------------------------------------------------
# Batch functions for the `python` adapter (a DataFrame with the columns id, context, question)

def _rows(items: pd.DataFrame) -> Iterable[tuple[str, str]]:
    return zip(items["context"].astype(str), items["question"].astype(str), strict=True)


def baseline(items: pd.DataFrame) -> list[str]:
    """`answer_baseline` for every row of `items`."""
    return [answer_baseline(c, q) for c, q in _rows(items)]


def careless(items: pd.DataFrame) -> list[str]:
    """`answer_careless` for every row of `items`."""
    return [answer_careless(c, q) for c, q in _rows(items)]


# ----------------------------------------------------------------------------------------------------------
# Tuning (documented in the module docstring)

def tune(limit: float = 0.15, confidence: float = 0.95) -> list[tuple[float, int, int, float]]:
    """The sweep behind `SIMILARITY_THRESHOLD`: for each threshold 0.00, 0.05, ..., 0.40, the hallucinations
    and over-refusals of the baseline on city-services-qa and the hallucination rate's Wilson upper bound.
    Reads only the items' context, question and `answerable` flag. Sorted best first: upper bound under
    `limit`, then fewest over-refusals, then fewest hallucinations."""
    from harness.datasets import load_dataset
    from harness.stats import wilson_interval

    frame = load_dataset("city-services-qa").frame
    scored = [(candidate(c, q), bool(ok)) for c, q, ok in
              zip(frame["context"], frame["question"], frame["answerable"], strict=True)]
    n_unanswerable = sum(not ok for _, ok in scored)
    rows = []
    for threshold in [i / 20 for i in range(9)]:
        answered = [(s is not None and sim >= threshold, ok) for (s, sim), ok in scored]
        hall = sum(a and not ok for a, ok in answered)
        refused = sum(ok and not a for a, ok in answered)
        upper = float(wilson_interval(hall, n_unanswerable, confidence)[1])
        rows.append((threshold, hall, refused, upper))
    return sorted(rows, key=lambda r: (r[3] >= limit, r[2], r[1]))


if __name__ == "__main__":
    import sys

    if "--tune" in sys.argv:
        for row in tune():
            print("similarity >= {:.2f}: {} hallucinations, {} over-refusals, Wilson upper bound {:.3f}".format(*row))
