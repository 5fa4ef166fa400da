"""Personal data is masked where text leaves the harness (issue 12, section 3): in every report table, finding,
console line, MLflow tag and artifact, by one function (`harness.redact.mask_pii`) at the output boundary, and
never in a number, a digest, a run id or a date."""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.assessment import AssessmentResult, jsonable
from harness.redact import PATTERNS, PREFILTER, clip, find, luhn_valid, mask_pii, mask_tree, personal_values
from harness.report import render
from tests.conftest import MANIFEST

QA = Path(__file__).resolve().parents[1] / "datasets" / "city-services-qa"

# a resident's data, as a careless tool might repeat it
PII = ("My SSN is 123-45-6789, my card is 4111 1111 1111 1111, call me at (505) 555-0142 or write to "
       "jane.doe@example.org; I live at 1200 Main Street.")
MASKED = ("My SSN is ***-**-6789, my card is **** **** **** 1111, call me at ***-***-0142 or write to "
          "j***@example.org; I live at *** Street.")
RAW = ("123-45-6789", "4111 1111 1111 1111", "(505) 555-0142", "jane.doe@example.org", "1200 Main Street",
       # pieces that would still disclose most of a value
       "123-45", "4111 1111", "555-0142", "jane.doe", "1200 Main")
MASKED_FORMS = ("***-**-6789", "**** **** **** 1111", "***-***-0142", "j***@example.org", "*** Street")

TOOLS = f'''
PII = {PII!r}


def leaky(items):
    # the question's length makes a reworded question get another answer: the consistency tables list them too
    return [f"{{PII}} ({{len(q)}})" for q in items["question"]]


def flaky(items):
    from harness.tools import Predictions
    ids = [str(i) for i in items["id"]]
    errors = [f"the model timed out answering {{i}}" if k % 10 == 0 else None for k, i in enumerate(ids)]
    return Predictions(labels=None, answers=["I don't know."] * len(ids), errors=errors)


def broken(items):
    raise RuntimeError("no route to jane.doe@example.org")
'''


# ---------------------------------------------------------------------------------------------------------------
# the masking function, value by value


def test_each_kind_is_masked_to_its_exact_form() -> None:
    assert mask_pii(PII) == MASKED
    assert mask_pii("SSN 219 09 9999") == "SSN ***-**-9999"
    assert mask_pii("amex 3782 822463 10005 on file") == "amex **** **** **** 0005 on file"
    assert mask_pii("+1 505.768.3000") == "***-***-3000"
    assert mask_pii("P.O. Box 1293, Quillan Falls") == "*** 1293, Quillan Falls"
    assert mask_pii("id resident7@example.org failed") == "id r***@example.org failed"


def test_what_only_looks_like_personal_data_is_left_alone() -> None:
    for text in ("4111 1111 1111 1112",  # fails the Luhn check
                 "000-12-3456", "called 123-4567", "2024-01-15 10:30", "case 2024-00123", "at 5 pm"):
        assert mask_pii(text) == text


def test_masking_is_idempotent() -> None:
    assert mask_pii(MASKED) == MASKED
    assert mask_pii(mask_pii(PII)) == mask_pii(PII)


# a sha256 digest and a UUID that hold a Luhn-valid run of digits, and a date followed by a number that together
# read as a card number: the scanner's patterns alone would take each for a payment card
DIGEST = "ab" + "4111111111111111" + "cd" * 23
RUN_UUID = "0e1f2a3b-4c5d-6e7f-a411-111111111116"
DATED = "2026-12-06 4111113"
# a digest shortened for display whose 12 hex characters are all digits: "256 160413524607" (sha256's own digits
# and the prefix) is a Luhn-valid 15-digit run; a plan's console line once came out "sha**** **** **** 4607..."
SHORT_DIGEST = "plan 308fd481 fixed (sha256 160413524607...)"


@pytest.mark.parametrize("text", [DIGEST, f"sha256:{DIGEST}", RUN_UUID, f"runs:/{RUN_UUID}/model", DATED,
                                  SHORT_DIGEST])
def test_digests_run_ids_and_dates_are_never_read_as_cards(text: str) -> None:
    assert [v.kind for v in find(text)] == ["payment_card"]  # what the protection is for
    assert mask_pii(text) == text


def test_a_card_number_called_a_digest_is_still_masked() -> None:
    """The adversary of the shortened-digest exception: a tool that writes a card number after "sha256" (whole, or
    followed by "...") does not get it through; only the harness's own 12-character display form is left alone."""
    for text in ("sha256:4111111111111111", "sha256= 4111-1111-1111-1111...", "sha512 4111-1111-1111-1111",
                 "sha256 4111111111111111", "sha256 4111 1111 1111 1111"):
        assert "4111111111111111" not in re.sub(r"\D", "", mask_pii(text)), text
        assert "1111" in mask_pii(text)  # masked to its last four, as every card is


# a card number inside a longer run of digits and spaces: the run as a whole fails Luhn ("7 4111..." is 17 digits,
# "256 4111 ... 1111" 19), and the card number in it must still be found, by the masking and by the scanner
CARD_IN_A_RUN = {
    "case 7 4111111111111111": "case 7 **** **** **** 1111",
    "sha256 4111 1111 1111 1111": "sha256 **** **** **** 1111",
    "card 4111 1111 1111 1111 0427 123 on file": "card **** **** **** 1111 0427 123 on file",  # expiry and CVV after
    "ref 12 3782 822463 10005": "ref 12 **** **** **** 0005",  # an American Express number, 4-6-5
    "ticket 88 4111-1111-1111-1111": "ticket 88 **** **** **** 1111",
}


@pytest.mark.parametrize("before", ["", "7 ", "12 ", "256 ", "0427 123 ", "1 2 3 "])
@pytest.mark.parametrize("after", ["", " 7", " 0427", " 0427 123", " 1 2 3"])
@pytest.mark.parametrize("card", ["4111111111111111", "4111 1111 1111 1111", "3782 822463 10005"])
def test_a_card_number_is_found_wherever_it_stands_in_a_run_of_digits_and_spaces(before: str, after: str,
                                                                                   card: str) -> None:
    text = f"ref {before}{card}{after}."
    masked = mask_pii(text)
    digits = re.sub(r"\D", "", card)
    assert digits not in re.sub(r"\D", "", masked) and f"**** **** **** {card[-4:]}" in masked, masked
    # the card number alone is masked, unless the whole run happens to pass the Luhn check ("1 2 3 3782 822463
    # 10005", 18 digits), which masks it whole as before
    whole = text[4:-1]
    assert masked == (f"ref **** **** **** {whole[-4:]}." if luhn_valid(whole)
                      else f"ref {before}**** **** **** {card[-4:]}{after}."), masked


@pytest.mark.parametrize(("text", "masked"), CARD_IN_A_RUN.items())
def test_a_card_number_inside_a_longer_run_of_digits_is_found(text: str, masked: str) -> None:
    import pandas as pd

    from harness.measures.pii import detect, scan_column

    assert mask_pii(text) == masked
    assert [v.kind for v in find(text)] == ["payment_card"] and detect(text) == ["payment_card"]
    assert scan_column(pd.Series([text, "nothing", text], dtype="str"))["payment_card"] == 2


NOT_CARDS = [
    "application 20260930123456789012 received",  # a 20-digit id: no card number is cut out of one group of digits
    "order 1234567890123456",  # 16 digits, Luhn-invalid, as before
    "seeds 20270101 20270401 20270701",  # groups of 8: not how a card number is written
    # counts: "300 14000 200 9000" and "14000 1000000 6000" pass the Luhn check, but are not written as cards are
    "rows 300 14000 200 9000 210", "n 808 14000 1000000 6000", "n 60 300 3000 14000 30000",
    "fiscal years 2019 2020 2021 2022 2023",
    "RA-S0101-00001 RA-S0101-00002", "case 2024-00123-4111111111111111",  # joined by hyphens: an id, as before
]


@pytest.mark.parametrize("text", [*NOT_CARDS,
                                  # the harness's display form of a digest (12 characters, then ...)
                                  "plan 308fd481 fixed (sha256 160413524607...)", "inputs sha256 411111111111..."])
def test_long_numbers_that_are_not_card_numbers_are_left_alone(text: str) -> None:
    from harness.measures.pii import detect

    assert mask_pii(text) == text
    if text in NOT_CARDS:  # the scanner reads datasets' cells, where the harness writes no digests
        assert "payment_card" not in detect(text)


@pytest.mark.parametrize("text", [
    "sha256 3d47125bd26e22e6ed87e38737ff9453b08b11f967b54deb4ce910592c8bd9d7",  # city-services-qa's digest
    "run 2bdd199ef5e84065a26f604685f167c2", str(uuid.UUID("2bdd199ef5e84065a26f604685f167c2")),  # MLflow run ids
    "2026-12-06", "2026-12-06T10:30:00+00:00", "2026-12-06T10:30:00.123Z",
    "0.8123", "accuracy = 0.8123 (needs >= 0.80)", "harness 0.1.0", "abq-dti-default@2026.11",
    "policy 4.2, threshold 0.15, 14,000 rows, 1,000,000 rows", "p95 0.016 s",
])
def test_ordinary_figures_survive_untouched(text: str) -> None:
    assert mask_pii(text) == text


def test_an_email_is_masked_even_beside_a_digest() -> None:
    # the protection covers numbers inside identifiers, never an address: its @ is part of no digest
    assert mask_pii(f"{DIGEST[:20]}@example.org") == f"{DIGEST[0]}***@example.org"


def test_mask_tree_masks_text_and_keys_never_numbers() -> None:
    tree = {"answer": PII, "n": 4111111111111111, "value": 0.8123, "ok": True, "none": None,
            "ids": ("jane.doe@example.org", "csq-0001"),
            "by_id": {"jane.doe@example.org": 1, "jim.doe@example.org": 2, "csq-0001": 3}}
    assert mask_tree(tree) == {
        "answer": MASKED, "n": 4111111111111111, "value": 0.8123, "ok": True, "none": None,
        "ids": ("j***@example.org", "csq-0001"),
        "by_id": {"j***@example.org": 1, "j***@example.org #2": 2, "csq-0001": 3}}


def test_jsonable_is_the_json_boundary() -> None:
    assert jsonable({"answers": [PII], "n": 4111111111111111, "rate": float("nan")}) == {
        "answers": [MASKED], "n": 4111111111111111, "rate": None}


def test_clip_never_cuts_a_value_in_half() -> None:
    text = "Call (505) 555-0142 today."
    assert text[:12] == "Call (505) 5" and clip(text, 12) == "Call "
    assert clip(text, 40) == text and clip("no personal data here", 7) == "no pers"


def test_the_patterns_are_the_data_quality_scanners() -> None:
    """One definition of personal data: the dataset scanner uses the harness's own patterns and Luhn check (the
    same objects, not a copy that could drift), and its exact checks agree with `find` value by value."""
    from harness import redact
    from harness.measures import pii

    assert pii.PATTERNS is PATTERNS and pii.PREFILTER is PREFILTER and pii.luhn_valid is redact.luhn_valid
    assert pii.BROAD["email"] is redact.EMAIL and pii.BROAD["street_address"] is redact.STREET_ADDRESS
    numbers = ("4111 1111 1111 1111", "4111 1111 1111 1112", "0000000000000")
    assert [pii.luhn_valid(n) for n in numbers] == [True, False, True]
    for text in ("SSN 123-45-6789", "SSN 666-45-6789", "card 4111 1111 1111 1111", "card 4111 1111 1111 1112",
                 "call (505) 555-0142", "call (105) 555-0142"):
        assert pii.detect(text) == [v.kind for v in find(text)], text


# ---------------------------------------------------------------------------------------------------------------
# end to end: a generative tool whose answers hold a resident's data


def cli(*args: str) -> Result:
    from harness.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "3000"})


def tool(folder: Path, callable_: str, tool_id: str, adapter: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(TOOLS)
    path = folder / f"{tool_id}.yaml"
    path.write_text(MANIFEST.format(id=tool_id).replace("category: decision-support", "category: generative")
                    + (adapter or f"adapter:\n  kind: python\n  callable: {callable_}\n"))
    return path


def leaks(text: str) -> list[str]:
    return [r for r in RAW if r in text]


def files_under(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def the_run(uri: str, tool_id: str):
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    exp = c.get_experiment_by_name(f"harness/{tool_id}")
    runs = [r for r in c.search_runs([exp.experiment_id]) if r.data.tags.get("harness.kind") != "submission"]
    assert len(runs) == 1
    return c, runs[0]


def store_leaks(uri: str, store: Path, tool_id: str, tmp: Path, raw: tuple[str, ...]) -> dict[str, list[str]]:
    """Every raw value found in the MLflow store: its tags, params and metric names through the API, every
    artifact downloaded, and the bytes of the database itself (decision records included)."""
    c, run = the_run(uri, tool_id)
    found: dict[str, list[str]] = {}
    texts = {f"tag {k}": f"{k} {v}" for k, v in run.data.tags.items()}
    texts |= {f"param {k}": f"{k} {v}" for k, v in run.data.params.items()}
    texts["metric names"] = " ".join(run.data.metrics)
    dst = tmp / "downloaded"
    dst.mkdir()
    c.download_artifacts(run.info.run_id, "", str(dst))
    texts |= {f"artifact {k}": v for k, v in files_under(dst).items()}
    assert {"artifact assessment.json", "artifact report.html", "artifact report.md"} <= set(texts)
    for p in store.rglob("*"):
        if p.is_file():
            texts[f"store file {p.name}"] = p.read_bytes().decode("utf-8", errors="replace")
    for where, text in texts.items():
        if hits := [r for r in raw if r in text]:
            found[where] = hits
    return found


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pii-boundary")
    store = root / "store"
    uri = f"sqlite:///{store / 'mlflow.db'}"
    manifest = tool(root / "tool", "tools:leaky", "leaky-qa")
    r = cli("assess", str(manifest), "--dataset", "city-services-qa", "--tracking-uri", uri,
            "--out", str(root / "out"), "--by", "dana")
    return {"root": root, "store": store, "uri": uri, "cli": r}


@pytest.mark.slow
def test_no_report_file_holds_the_residents_data(leaky_run: dict) -> None:
    r = leaky_run["cli"]
    assert r.exit_code == 1, r.output  # FAIL: it hallucinates and leaks
    files = files_under(leaky_run["root"] / "out")
    assert {"assessment.json", "report.md", "report.html"} <= set(files)
    assert {name: leaks(text) for name, text in files.items() if leaks(text)} == {}
    for form in MASKED_FORMS:
        assert form in files["report.md"] and form in files["assessment.json"]
    assert leaks(r.output) == []


@pytest.mark.slow
def test_the_hallucination_tables_hold_the_masked_answers(leaky_run: dict) -> None:
    result = json.loads((leaky_run["root"] / "out" / "assessment.json").read_text())
    tables = next(s["tables"] for s in result["suites"] if s["suite"] == "hallucination")
    first = tables["hallucination.hallucinated_examples"][0]
    assert re.fullmatch(re.escape(MASKED) + r" \(\d+\)", first["answer"])
    # every value of the page shown beside it is masked too, and none is cut in half
    for row in tables["hallucination.hallucinated_examples"]:
        assert personal_values(row["context_excerpt"]) == []
    claims = tables["hallucination.unsupported_claims"][0]["unsupported"]
    assert claims.startswith("name 'SSN'; SSN '***-**-6789'; card number '**** **** **** 1111'; phone "
                             "'***-***-0142'; address '*** Street'")
    assert re.fullmatch(re.escape(MASKED) + r" \(\d+\)", tables["hallucination.paraphrase_disagreements"][0]["answer"])
    # the live report and the one `harness report RUN_ID` re-renders from assessment.json are the same page
    md = (leaky_run["root"] / "out" / "report.md").read_text()
    from harness.tracking import Store
    from harness.workflows.trend import history_of

    store = Store.open(leaky_run["uri"])  # as `harness report RUN_ID` does: with the tool's runs so far (issue 16)
    assert render(AssessmentResult.from_dict(result), "md", history_of(store, result, look_up_approval=True)) == md


@pytest.mark.slow
def test_no_mlflow_tag_artifact_or_record_holds_the_residents_data(leaky_run: dict, tmp_path: Path) -> None:
    assert store_leaks(leaky_run["uri"], leaky_run["store"], "leaky-qa", tmp_path, RAW) == {}


# ---------------------------------------------------------------------------------------------------------------
# item ids that are e-mail addresses, and a tool's error message naming one


EMAIL_IDS = [f"resident{k}@example.org" for k in range(60)]


@pytest.fixture(scope="module")
def email_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 items of city-services-qa, each id an e-mail address."""
    import hashlib

    folder = tmp_path_factory.mktemp("email-ids")
    lines = (QA / "items.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    items = [json.loads(line) | {"id": i} for line, i in zip(lines, EMAIL_IDS, strict=True)]
    data = "".join(json.dumps(item) + "\n" for item in items).encode()
    (folder / "items.jsonl").write_bytes(data)
    card = (QA / "card.yaml").read_text()
    card = re.sub(r"(?m)^sha256: .*$", f"sha256: {hashlib.sha256(data).hexdigest()}", card)
    card = card.replace("name: city-services-qa", "name: email-ids-qa").replace("min_rows: 276", "min_rows: 60")
    (folder / "card.yaml").write_text(card)
    return folder / "card.yaml"


def id_leaks(text: str) -> list[str]:
    return [i for i in [*EMAIL_IDS, "jane.doe@example.org"] if i in text]


@pytest.mark.slow
def test_email_ids_in_a_finding_are_masked_in_the_console_and_the_record(email_dataset: Path,
                                                                          tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    manifest = tool(tmp_path / "tool", "tools:flaky", "flaky-qa")
    r = cli("assess", str(manifest), "--dataset", str(email_dataset), "--suite", "hallucination",
            "--tracking-uri", uri, "--out", str(tmp_path / "out"), "--by", "dana")
    assert r.exit_code == 1, r.output  # 6 of 60 items errored: more than max_error_share, a blocking ERROR
    assert id_leaks(r.output) == [] and "r***@example.org (the model timed out answering r***@example.org)" in r.output
    result = json.loads((tmp_path / "out" / "assessment.json").read_text())
    finding = next(f for s in result["suites"] for f in s["findings"] if f["check"] == "tool_errors")
    assert finding["message"].endswith(
        "First: r***@example.org (the model timed out answering r***@example.org); r***@example.org (the model "
        "timed out answering r***@example.org); r***@example.org (the model timed out answering r***@example.org); "
        "r***@example.org (the model timed out answering r***@example.org); r***@example.org (the model timed out "
        "answering r***@example.org) and 1 more.")
    assert finding["details"]["first"][0] == {"id": "r***@example.org",
                                              "error": "the model timed out answering r***@example.org"}
    files = files_under(tmp_path / "out")
    assert {name: id_leaks(text) for name, text in files.items() if id_leaks(text)} == {}
    assert store_leaks(uri, tmp_path / "store", "flaky-qa", tmp_path, tuple(EMAIL_IDS)) == {}


@pytest.mark.slow
def test_a_tool_error_naming_an_email_is_masked_in_the_tag_and_the_console(email_dataset: Path,
                                                                          tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    manifest = tool(tmp_path / "tool", "tools:broken", "broken-qa")
    r = cli("assess", str(manifest), "--dataset", str(email_dataset), "--suite", "hallucination",
            "--tracking-uri", uri, "--out", str(tmp_path / "out"), "--by", "dana")
    assert r.exit_code == 4, r.output  # ERROR
    assert id_leaks(r.output) == [] and "no route to j***@example.org" in r.output
    _, run = the_run(uri, "broken-qa")
    assert run.data.tags["harness.error"].endswith("RuntimeError while answering: no route to j***@example.org")
    result = json.loads((tmp_path / "out" / "assessment.json").read_text())
    assert result["error"]["message"] == run.data.tags["harness.error"]
    assert result["reasons"] == [run.data.tags["harness.error"]]
    assert store_leaks(uri, tmp_path / "store", "broken-qa", tmp_path, ("jane.doe@example.org",)) == {}


def test_an_error_message_naming_item_ids_is_masked_on_the_console(email_dataset: Path, tmp_path: Path) -> None:
    # a vendor's file of answers with none for these items: the refusal lists the first five ids (exit 2)
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "answers.jsonl").write_text('{"id": "someone-else", "answer": "x"}\n')
    manifest = tool(tmp_path / "tool", "", "answers-qa", adapter="adapter:\n  kind: responses\n  path: answers.jsonl\n")
    r = cli("assess", str(manifest), "--dataset", str(email_dataset), "--suite", "hallucination",
            "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out"))
    assert r.exit_code == 2, r.output
    assert id_leaks(r.output) == []
    assert r.output.endswith("has no answer for 60 of 60 items of dataset 'email-ids-qa', e.g. ['r***@example.org', "
                             "'r***@example.org', 'r***@example.org', 'r***@example.org', 'r***@example.org']\n")
