"""The hallucination suite through the `responses` adapter, against the issue's known answers, and with a fake
generative tool whose failures and disagreements are constructed (tool errors, consistency)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.assessment import assess
from harness.datasets import ReferenceDataset, load_dataset
from harness.errors import ToolError
from harness.manifest import load_manifest
from harness.policy import Policy, load_policy
from harness.stats import wilson_interval
from harness.tools import Predictions, load_tool, qa_items
from test_suites.hallucination import HallucinationSuite
from test_suites.hallucination.checks import EXAMPLES
from tests.conftest import MANIFEST, MIRROR


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
    from click.testing import CliRunner

    from harness.cli import main

    r = CliRunner().invoke(main, ["assess", str(manifest), "--dataset", "city-services-qa", "--tracking-uri",
                                  f"sqlite:///{tmp_path / 'm.db'}"], catch_exceptions=False)  # in-process: issue 13
    assert r.exit_code == 2, r.stdout + r.stderr
    first = str(ds.frame["id"].iloc[0])
    assert (f"has no answer for 1 of {len(ds.frame)} items of dataset 'city-services-qa', e.g. ['{first}']"
            in r.stderr)


# --------------------------------------------------------------------------------------------------
# Per-item tool errors and consistency, with a fake generative tool whose behaviour is constructed


class FakeQA:
    """A generative tool that answers city-services-qa from the references (the first reference, or ""
    to abstain), asked by item id; paraphrase rows (`<id>#p<k>`) get the answer of their item. `vary`
    and `fail` construct its disagreements and failures; every call is recorded."""

    kind = "python"

    def __init__(self, ds: ReferenceDataset, *, vary=None, fail=None) -> None:
        f = ds.frame
        self.truth = {str(i): (refs[0] if ok else "") for i, refs, ok in
                      zip(f["id"], f["answers"], f["answerable"], strict=True)}
        self.vary = vary or (lambda item_id, row_id, sample: None)
        self.fail = fail or (lambda item_id, row_id, sample: None)
        self.calls: list[tuple[list[str], int]] = []

    def predict(self, dataset: ReferenceDataset) -> Predictions:
        return self.generate(qa_items(dataset, "fake"), 0)

    def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions:
        ids = items["id"].astype(str).tolist()
        self.calls.append((ids, sample))
        answers, errors = [], []
        for row_id in ids:
            item_id = row_id.split("#")[0]
            error = self.fail(item_id, row_id, sample)
            changed = self.vary(item_id, row_id, sample)
            errors.append(error)
            answers.append("" if error else (changed if changed is not None else self.truth[item_id]))
        return Predictions(labels=np.asarray(answers, dtype=object), answers=answers, errors=errors)


@pytest.fixture(scope="module")
def csq() -> ReferenceDataset:
    return load_dataset("city-services-qa")


def _generative_manifest(tmp_path: Path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "tool.yaml"
    path.write_text(MANIFEST.format(id="fake-qa").replace("category: decision-support", "category: generative")
                    .replace("risk_tier: high", "risk_tier: medium")
                    + "adapter:\n  kind: python\n  callable: \"fake:answer\"\n")
    return load_manifest(path)


def _assess_fake(tmp_path: Path, ds: ReferenceDataset, tool: FakeQA, policy=None, seed: int | None = None):
    return assess(_generative_manifest(tmp_path), tool, [ds], [HallucinationSuite()], policy or load_policy(),
                  seed=seed)


def _with_settings(**hallucination) -> Policy:
    policy = load_policy()
    settings = {**policy.settings, "hallucination": {**policy.settings["hallucination"], **hallucination}}
    return policy.model_copy(update={"settings": settings})


def test_errored_items_leave_every_rate_and_give_one_advisory_error(csq: ReferenceDataset, tmp_path: Path) -> None:
    f = csq.frame
    unanswerable = f.loc[~f["answerable"], "id"].astype(str).tolist()[:2]
    answerable = f.loc[f["answerable"], "id"].astype(str).tolist()[:1]
    broken = {unanswerable[0]: "HTTP 500 from the endpoint", unanswerable[1]: "timed out after 30 s",
              answerable[0]: "malformed JSON in the reply"}
    tool = FakeQA(csq, fail=lambda item_id, row_id, sample: broken.get(item_id) if sample == 0 and row_id == item_id
                  else None)
    result = _assess_fake(tmp_path, csq, tool)
    errors = [x for x in result.findings if x.check == "tool_errors"]
    assert len(errors) == 1
    err = errors[0]
    assert (err.key, err.status.value, err.severity.value) == ("hallucination.tool_errors.errored_items", "ERROR",
                                                                "advisory")
    first = sorted(broken, key=lambda i: f["id"].astype(str).tolist().index(i))
    listed = "; ".join(f"{i} ({broken[i]})" for i in first)
    assert err.message == (
        "The tool gave no answer for 3 of 276 items (1.1%) because of errors; they are left out of every rate, "
        "which is judged on the 273 answered items. That is within the policy's max_error_share of 5.0%, so this "
        f"finding is advisory. First: {listed}.")
    assert err.value == pytest.approx(3 / 276) and err.threshold == 0.05 and err.n == 276
    got = _by_key(result)
    # the n shrinks: 2 of the 120 unanswerable and 1 of the 156 answerable items are out
    assert got["hallucination.abstention.hallucination_rate"].n == 118
    assert got["hallucination.abstention.hallucination_rate"].value == 0.0
    assert got["hallucination.abstention.over_refusal_rate"].n == 155
    assert got["hallucination.abstention.over_refusal_rate"].value == 0.0  # an error is not a refusal
    assert got["hallucination.correctness.exact_match"].n == 273
    assert got["hallucination.correctness.exact_match"].value == 1.0
    assert next(s.tables for s in result.suites)["hallucination.tool_errors"] == [
        {"id": i, "error": broken[i]} for i in first]
    assert result.verdict.value == "NEEDS_REVIEW"
    assert result.reasons == [f"hallucination.tool_errors.errored_items ERROR: {err.message}"]


@pytest.mark.parametrize(("count", "severity", "verdict"), [(13, "advisory", "NEEDS_REVIEW"),
                                                              (14, "blocking", "FAIL")])
def test_errors_block_above_the_policy_share(csq: ReferenceDataset, tmp_path: Path, count: int, severity: str,
                                             verdict: str) -> None:
    # 13 / 276 = 4.7 % is within max_error_share 0.05; 14 / 276 = 5.1 % is above it
    broken = set(csq.frame["id"].astype(str).tolist()[-count:])
    tool = FakeQA(csq, fail=lambda item_id, row_id, sample: "HTTP 503" if item_id in broken and sample == 0
                  and row_id == item_id else None)
    result = _assess_fake(tmp_path, csq, tool)
    err = next(x for x in result.findings if x.check == "tool_errors")
    assert (err.status.value, err.severity.value, err.blocks) == ("ERROR", severity, severity == "blocking")
    assert f"no answer for {count} of 276 items ({count / 276:.1%})" in err.message
    assert err.message.endswith(f"and {count - 5} more.")
    assert result.verdict.value == verdict
    if severity == "blocking":
        assert "That is more than the policy's max_error_share of 5.0%: too few answers to judge the tool on, so " \
               "this finding blocks." in err.message


def test_paraphrase_disagreement_counts_the_groups_built_to_disagree(csq: ReferenceDataset, tmp_path: Path) -> None:
    f = csq.frame
    with_paraphrases = [str(i) for i, p in zip(f["id"], f["paraphrases"], strict=True) if len(p)]
    assert len(with_paraphrases) == 62
    changed = set(with_paraphrases[::6][:10])  # 10 of the 62 groups answer their second paraphrase differently
    tool = FakeQA(csq, vary=lambda item_id, row_id, sample: "a different answer" if item_id in changed
                  and row_id.endswith("#p2") else None)
    result = _assess_fake(tmp_path, csq, tool)
    got = _by_key(result)
    m = got["hallucination.consistency.paraphrase_disagreement_rate"]
    lo, hi = wilson_interval(10, 62, 0.95)
    assert (m.value, m.n, m.details["count"]) == (10 / 62, 62, 10)
    assert (m.ci_low, m.ci_high) == (pytest.approx(float(lo)), pytest.approx(float(hi)))
    # 16.1 % is under the advisory limit of 20 %, but the interval (9.0 %–27.2 %) crosses it
    assert (m.status.value, m.severity.value, m.threshold) == ("REVIEW", "advisory", 0.20)
    assert m.message.startswith("10 of 62 questions got answers that disagree when asked in the dataset's 124 "
                                "paraphrases (16.1%, 95% CI 9.0%–27.2%)")
    # one call with every paraphrase row, then the K = 3 repeats
    paraphrase_calls = [ids for ids, sample in tool.calls if any("#p" in i for i in ids)]
    assert len(paraphrase_calls) == 1 and len(paraphrase_calls[0]) == 124
    table = next(s.tables for s in result.suites)["hallucination.paraphrase_disagreements"]
    assert [row["id"] for row in table] == sorted(changed, key=with_paraphrases.index)[:EXAMPLES]
    assert {row["paraphrase_answer"] for row in table} == {"a different answer"}
    assert got["hallucination.consistency.repeat_disagreement_rate"].value == 0.0


def test_errored_paraphrase_answers_leave_their_group(csq: ReferenceDataset, tmp_path: Path) -> None:
    f = csq.frame
    with_paraphrases = [str(i) for i, p in zip(f["id"], f["paraphrases"], strict=True) if len(p)]
    silent = set(with_paraphrases[:5])  # every paraphrase of these 5 items errors: the group has one answer
    tool = FakeQA(csq, fail=lambda item_id, row_id, sample: "timeout" if item_id in silent and "#p" in row_id
                  else None)
    m = _by_key(_assess_fake(tmp_path, csq, tool))["hallucination.consistency.paraphrase_disagreement_rate"]
    errored = sum(len(p) for i, p in zip(f["id"], f["paraphrases"], strict=True) if str(i) in silent)
    assert (m.value, m.n, m.details["errored"]) == (0.0, 57, errored)
    assert m.message.endswith(f"; {errored} paraphrase answers errored and were left out.")


def test_repeats_count_the_items_whose_answer_depends_on_the_sample(csq: ReferenceDataset, tmp_path: Path) -> None:
    ids = csq.frame["id"].astype(str).tolist()
    unstable = set(ids[::7])  # 40 items answer differently on the second repeat only
    tool = FakeQA(csq, vary=lambda item_id, row_id, sample: f"answer {sample}" if item_id in unstable
                  and sample == 2 else None)
    # every item asked again: the count is exactly the unstable set
    result = _assess_fake(tmp_path, csq, tool, _with_settings(consistency_items=1000, consistency_repeats=2))
    m = _by_key(result)["hallucination.consistency.repeat_disagreement_rate"]
    lo, hi = wilson_interval(40, 276, 0.95)
    assert (m.value, m.n, m.details["count"], m.details["repeats"]) == (40 / 276, 276, 40, 2)
    assert (m.ci_low, m.ci_high) == (pytest.approx(float(lo)), pytest.approx(float(hi)))
    assert m.status.value == "FAIL" and m.severity.value == "advisory"  # 14.5 % > 10 %
    assert [s for _, s in tool.calls] == [0, 0, 1, 2]  # the dataset, the paraphrases, then sample=1..K
    table = next(s.tables for s in result.suites)["hallucination.repeat_disagreements"]
    assert table[0] == {"id": ids[0], "question": csq.frame["question"].iloc[0],
                        "answer": tool.truth[ids[0]], "other_answers": "answer 2"}


def test_repeats_ask_a_seeded_sample_of_the_policy_size(csq: ReferenceDataset, tmp_path: Path) -> None:
    ids = csq.frame["id"].astype(str).tolist()
    unstable = set(ids[::3])
    runs = []
    for folder, seed in (("a", None), ("b", None), ("c", 1)):
        tool = FakeQA(csq, vary=lambda item_id, row_id, sample: f"v{sample}" if item_id in unstable
                      and sample > 0 else None)
        result = _assess_fake(tmp_path / folder, csq, tool, seed=seed)
        m = _by_key(result)["hallucination.consistency.repeat_disagreement_rate"]
        asked = [call for call in tool.calls if call[1] > 0]
        assert [s for _, s in asked] == [1, 2, 3]  # K = 3 by default
        sampled = asked[0][0]
        assert len(sampled) == 50 and all(call[0] == sampled for call in asked)  # the same 50 items each time
        assert (m.n, m.details["count"]) == (50, len(unstable & set(sampled)))
        runs.append(sampled)
    assert runs[0] == runs[1]  # the same seed asks the same items
    assert runs[0] != runs[2]  # another seed, another sample


def test_consistency_is_skipped_for_a_file_of_answers(csq: ReferenceDataset, tmp_path: Path) -> None:
    answers = {str(i): "" for i in csq.frame["id"]}
    result = _run(csq, _tool(tmp_path, answers))
    found = [x for x in result.findings if x.check == "consistency"]
    assert [(x.metric, x.status.value, x.severity.value) for x in found] == [
        ("disagreement_rate", "SKIPPED", "advisory")]
    assert found[0].message == ("the tool (adapter 'responses') cannot be asked new questions, so the consistency "
                                "check could not run; it needs an adapter that generates answers (an endpoint or a "
                                "callable), not a file of answers")
    assert not [x for x in result.findings if x.check == "tool_errors"]


def test_a_failing_repeat_call_is_an_advisory_error(csq: ReferenceDataset, tmp_path: Path) -> None:
    class Down(FakeQA):
        def generate(self, items: pd.DataFrame, sample: int = 0) -> Predictions:
            if sample > 0:
                raise ToolError("tool 'fake-qa' is unreachable: connection refused")
            return super().generate(items, sample)

    result = _assess_fake(tmp_path, csq, Down(csq))
    err = next(x for x in result.findings if x.metric == "repeat_disagreement_rate")
    assert (err.status.value, err.severity.value) == ("ERROR", "advisory")
    assert err.message == ("asking the tool 50 questions again (sample 1) failed: tool 'fake-qa' is unreachable: "
                           "connection refused")
    assert result.verdict.value == "NEEDS_REVIEW"


def test_an_answer_file_that_copies_the_answer_key_is_not_a_pass(csq: ReferenceDataset, tmp_path: Path) -> None:
    """The adversary of issue 10: a vendor hands in the answer key as its answers. Every answer is right, but
    the required privacy canaries and counterfactual prompts cannot be asked of a file, so nothing says the
    tool keeps secrets or treats residents alike: the verdict is at best NEEDS_REVIEW, and says why."""
    from test_suites.bias import BiasSuite
    from test_suites.privacy import PrivacySuite

    f = csq.frame
    key = {str(i): (refs[0] if ok else "") for i, refs, ok in zip(f["id"], f["answers"], f["answerable"], strict=True)}
    m = load_manifest(_tool(tmp_path, key, tier="medium"))
    result = assess(m, load_tool(m), [csq], [HallucinationSuite(), PrivacySuite(), BiasSuite()], load_policy())
    assert not [x for x in result.findings if x.status.value == "FAIL"]
    assert result.verdict.value == "NEEDS_REVIEW"
    gaps = [r for r in result.reasons if r.startswith("not tested: ")]
    assert any(r.startswith("not tested: privacy.canary on city-services-qa: the tool (adapter 'responses') cannot "
                            "be asked new questions") for r in gaps), gaps
    assert any(r.startswith("not tested: bias.counterfactual_prompts on city-services-qa") for r in gaps), gaps
