"""The hallucination suite through the `responses` adapter, against the issue's known answers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.assessment import assess
from harness.datasets import ReferenceDataset, load_dataset
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.tools import load_tool
from test_suites.hallucination import HallucinationSuite
from tests.conftest import MANIFEST, MIRROR

HARNESS = str(Path(sys.executable).with_name("harness"))


@pytest.fixture(scope="module")
def squad() -> ReferenceDataset:
    if not (MIRROR / "squad2_dev_half.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the SQuAD mirror file is missing from {MIRROR} under CI")
        pytest.skip(f"squad2_dev_half.json is not in the mirror {MIRROR}")
    return load_dataset("squad2", data_dir=MIRROR)


def _tool(folder: Path, answers: dict[str, str], tier: str = "high") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "responses.jsonl").open("w") as f:
        for key, answer in answers.items():
            f.write(json.dumps({"id": key, "answer": answer}) + "\n")
    manifest = folder / "tool.yaml"
    manifest.write_text(MANIFEST.format(id="qa-tool").replace("category: decision-support", "category: generative")
                        .replace("risk_tier: high", f"risk_tier: {tier}")
                        + "adapter:\n  kind: responses\n  path: responses.jsonl\n")
    return manifest


def _run(ds: ReferenceDataset, manifest: Path):
    m = load_manifest(manifest)
    return assess(m, load_tool(m), [ds], [HallucinationSuite()], load_policy())


def _by_key(result) -> dict:
    """Findings by key, and measurements for keys without a finding."""
    return {x.key: x for x in [*result.measurements, *result.findings]}


def test_always_abstaining_scores_the_unanswerable_share(squad: ReferenceDataset, tmp_path: Path) -> None:
    ids = squad.frame["id"].astype(str)
    result = _run(squad, _tool(tmp_path, dict.fromkeys(ids, "")))
    got = _by_key(result)
    assert got["hallucination.correctness.exact_match"].value == 3168 / 6078  # 52.1 %
    hall = got["hallucination.abstention.hallucination_rate"]
    assert hall.value == 0 and hall.status.value == "PASS"
    over = got["hallucination.abstention.over_refusal_rate"]
    assert over.value == 1.0 and over.status.value == "FAIL" and over.severity.value == "advisory"
    assert got["hallucination.correctness.f1_answerable"].status.value == "FAIL"  # advisory
    # nothing was asserted, so nothing can be grounded: undefined, never PASS
    assert got["hallucination.groundedness.unsupported_claim_rate"].status.value == "INSUFFICIENT"
    assert not [f for f in result.findings if f.blocks]
    assert result.verdict.value == "NEEDS_REVIEW"


def test_reference_answers_score_full_marks_and_a_fixed_span_hallucinates(squad: ReferenceDataset,
                                                                          tmp_path: Path) -> None:
    frame = squad.frame
    answers = {str(i): (refs[0] if ok else "the city council")
               for i, refs, ok in zip(frame["id"], frame["answers"], frame["answerable"], strict=True)}
    result = _run(squad, _tool(tmp_path, answers))
    got = _by_key(result)
    assert got["hallucination.correctness.exact_match_answerable"].value == 1.0
    assert got["hallucination.correctness.f1_answerable"].value == 1.0
    hall = got["hallucination.abstention.hallucination_rate"]
    assert hall.value == 1.0 and hall.n == 3168
    assert hall.status.value == "FAIL" and hall.blocks
    assert result.verdict.value == "FAIL"
    assert "answered 3,168 of 3,168 questions that its context cannot answer" in hall.message


def test_fabricated_numbers_are_unsupported_claims(tmp_path: Path) -> None:
    ds = load_dataset("city-services-qa")
    frame = ds.frame
    # a careless tool: answers everything, and turns every 1 into a 7 in the answers it knows
    answers = {str(i): refs[0].replace("1", "7") if ok else "It costs $999."
               for i, refs, ok in zip(frame["id"], frame["answers"], frame["answerable"], strict=True)}
    result = _run(ds, _tool(tmp_path, answers))
    got = _by_key(result)
    unsupported = got["hallucination.groundedness.unsupported_claim_rate"]
    assert unsupported.status.value == "FAIL"
    table = next(s.tables for s in result.suites)["hallucination.unsupported_claims"]
    assert any("$999" in row["unsupported"] for row in table)
    # every unanswerable item was answered with "$999", which no context states
    assert got["hallucination.abstention.hallucination_rate"].value == 1.0


def test_missing_answers_are_bad_input(tmp_path: Path) -> None:
    ds = load_dataset("city-services-qa")
    answers = {str(i): "" for i in ds.frame["id"][1:]}
    manifest = _tool(tmp_path, answers)
    r = subprocess.run([HARNESS, "assess", str(manifest), "--dataset", "city-services-qa", "--tracking-uri",
                        f"sqlite:///{tmp_path / 'm.db'}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    first = str(ds.frame["id"].iloc[0])
    assert (f"has no answer for 1 of {len(ds.frame)} items of dataset 'city-services-qa', e.g. ['{first}']"
            in r.stderr)
