"""Pre-registered plans (policy 4.2): `harness plan` locks suites, dataset hashes, policy digest, seed and
manifest digest in a real SQLite MLflow store; `harness assess --plan` refuses any other input with the
exact list of differences and records nothing, and a run that matches is tagged with the plan."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness import gate
from harness.cli import main
from harness.errors import ConfigError, GateError
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.tracking import Store
from harness.workflows.plan import Plan, PlannedDataset, differences, hold_to, load_plan, make_plan, recorded_plan
from tests.conftest import write_case

POLICY = load_policy()
A, B, C = "a" * 64, "b" * 64, "c" * 64


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def a_plan(**kw: object) -> Plan:
    base = Plan(tool="rentrank", version="2.1", manifest_digest=A, suites=("bias", "degradation"),
                datasets=(PlannedDataset("rental-assistance", "rental-assistance", B, C),), policy="p@1 sha256:aaa",
                policy_digest=A, seed=5, by="pat", at="2026-11-27T10:00:00+00:00", plan_id="p1")
    return replace(base, **kw)  # type: ignore[arg-type]


# -- the comparison, by hand ---------------------------------------------------------------------------------


def test_identical_inputs_differ_in_nothing_whoever_runs_them_and_wherever_the_manifest_is() -> None:
    plan = a_plan()
    assert differences(plan, replace(plan, by="dana", at="2027-01-01", manifest="/elsewhere/tool.yaml",
                                     suites=("degradation", "bias"), plan_id=None)) == []
    hold_to(plan, plan)  # no exception


def test_every_difference_is_listed_in_one_sentence_each() -> None:
    plan = a_plan()
    actual = replace(plan, tool="other", manifest_digest=C, suites=("bias",), seed=7, policy_digest=B,
                     policy="p@2 sha256:bbb",
                     datasets=(PlannedDataset("rental-assistance", "x", C, C), PlannedDataset("adult", "adult", A, A)))
    assert differences(plan, actual) == [
        "tool other 2.1 is not the plan's rentrank 2.1",
        "manifest sha256 cccccccccccc... differs from the plan's aaaaaaaaaaaa...",
        "suites bias differ from the plan's bias, degradation",
        "dataset adult: not in the plan",
        "dataset rental-assistance: sha256 cccccccccccc... differs from the plan's bbbbbbbbbbbb...",
        "policy p@2 sha256:bbb differs from the plan's p@1 sha256:aaa",
        "seed 7 differs from the plan's 5",
    ]
    assert differences(plan, replace(plan, datasets=())) == ["dataset rental-assistance: in the plan but not given"]
    # the same data under an edited card (other groups, another target) is a different assessment
    card = replace(plan, datasets=(PlannedDataset("rental-assistance", "rental-assistance", B, A),))
    assert differences(plan, card) == [
        "dataset rental-assistance: its card's sha256 aaaaaaaaaaaa... differs from the plan's cccccccccccc... "
        "(same data, changed card)"]
    # a plan rebuilt from an old run's tags has no card hash: only the data is compared
    assert differences(replace(plan, datasets=(PlannedDataset("rental-assistance", "r", B),)), card) == []
    with pytest.raises(ConfigError) as e:
        hold_to(plan, replace(plan, seed=8))
    assert str(e.value) == ("assessment of rentrank 2.1 refused: its inputs differ from plan p1 (rentrank 2.1, fixed "
                            "by pat on 2026-11-27; policy 4.2):\n  - seed 8 differs from the plan's 5")


def test_a_plan_document_round_trips_and_hashes_its_canonical_json() -> None:
    plan = a_plan(manifest="/x/tool.yaml")
    again = Plan.from_document(json.loads(plan.text), plan_id="p1")
    assert again == plan and again.plan_id == "p1"
    assert plan.sha256 == hashlib.sha256(plan.text.encode("ascii")).hexdigest()
    assert '"plan_id"' not in plan.text  # where it is stored is not part of what is locked
    with pytest.raises(ConfigError, match=r"^plan p9 is not a harness plan \(schema 'x/1'\)$"):
        Plan.from_document({**plan.document(), "schema": "x/1"}, plan_id="p9")


# -- against a real store ----------------------------------------------------------------------------------


@dataclass
class Case:
    uri: str
    tool: Path
    card: Path
    plan: Plan


@pytest.fixture
def case(tmp_path: Path) -> Case:
    """A registered (submitted, never assessed) version and a plan for it: bias on its dataset, seed 11."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tool, card = write_case(tmp_path / "c", n=2000, seed=21)
    gate.register_version(uri, load_manifest(tool), tool, submitter="vendor-vic")
    plan = make_plan(uri, "case-tool-21", "1.0", datasets=[str(card)], suites=["bias"], seed=11, by="pat")
    return Case(uri=uri, tool=tool, card=card, plan=plan)


def runs_of(uri: str, tool: str) -> list:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    return c.search_runs([c.get_experiment_by_name(f"harness/{tool}").experiment_id])


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env={"COLUMNS": "200", "HARNESS_DATA_DIR": ""})
    return r.exit_code, r.stdout, r.stderr


def test_a_plan_locks_what_the_registered_version_will_be_assessed_by(case: Case) -> None:
    p = case.plan
    assert (p.tool, p.version, p.suites, p.seed, p.by, p.assessments_before) == (
        "case-tool-21", "1.0", ("bias",), 11, "pat", 0)
    assert p.manifest_digest == sha(case.tool)  # the digest the version was registered with
    assert p.datasets == (PlannedDataset(name="case-21", ref=str(case.card.resolve()),
                                         sha256=sha(case.card.parent / "data.csv"), card_sha256=sha(case.card)),)
    assert (p.policy, p.policy_digest, p.manifest) == (POLICY.label, POLICY.digest, None)
    assert load_plan(Store(case.uri), str(p.plan_id)) == p
    [run] = [r for r in runs_of(case.uri, "case-tool-21") if r.info.run_id == p.plan_id]
    assert run.info.status == "FINISHED"
    assert {k: run.data.tags[k] for k in ("harness.kind", "harness.tool_id", "harness.tool_version", "harness.plan.by",
                                          "harness.plan.sha256")} == {
        "harness.kind": "plan", "harness.tool_id": "case-tool-21", "harness.tool_version": "1.0",
        "harness.plan.by": "pat", "harness.plan.sha256": p.sha256}


def test_a_plan_needs_a_registered_open_version_a_person_and_verified_data(case: Case, tmp_path: Path) -> None:
    with pytest.raises(GateError) as e:
        make_plan(case.uri, "nope", "1.0", datasets=[str(case.card)], by="pat")
    assert str(e.value) == (f"plan of nope 1.0 refused: no tool 'nope' is registered in {case.uri}; register the "
                            "version first (`harness submit BUNDLE`)")
    with pytest.raises(ConfigError, match=r"^plan of case-tool-21 1.0: --by is empty: name the person who fixes the "
                                          r"plan \(policy 2\.3\)$"):
        make_plan(case.uri, "case-tool-21", "1.0", datasets=[str(case.card)], by=" ")
    with pytest.raises(ConfigError, match=r"^unknown suite\(s\) \['nope'\]"):
        make_plan(case.uri, "case-tool-21", "1.0", datasets=[str(case.card)], suites=["nope"], by="pat")
    data = case.card.parent / "data.csv"
    data.write_text(data.read_text().replace("a00000,", "a00000x,", 1))
    with pytest.raises(Exception) as e2:
        make_plan(case.uri, "case-tool-21", "1.0", datasets=[str(case.card)], by="pat")
    assert str(e2.value) == (f"the data file {data} does not match dataset card {case.card}: sha256 expected "
                             f"{case.plan.datasets[0].sha256}, found {sha(data)}; a plan cannot lock data that "
                             "differs from its card")
    gate.reject(case.uri, "case-tool-21", "1.0", reviewer="rita", reason="vendor withdrew")
    with pytest.raises(GateError, match=r"^plan of case-tool-21 1\.0 refused: case-tool-21 1\.0 is rejected; a closed "
                                        r"version is not assessed again \(policy 4\.1\)$"):
        make_plan(case.uri, "case-tool-21", "1.0", datasets=[str(case.card)], by="pat")


def _new_data_version(card: Path) -> tuple[str, str]:
    """The dataset's data changed and its card was updated to match: a new dataset version."""
    data = card.parent / "data.csv"
    old = sha(data)
    frame = pd.read_csv(data)
    frame.loc[0, "income"] = frame.loc[0, "income"] + 1
    frame.to_csv(data, index=False)
    card.write_text(card.read_text().replace(old, sha(data)))
    return old, sha(data)


def test_assess_with_a_plan_refuses_every_changed_input_and_records_nothing(case: Case, tmp_path: Path) -> None:
    p = case.plan
    head = (f"error: assessment of case-tool-21 1.0 refused: its inputs differ from plan {p.plan_id} (case-tool-21 "
            f"1.0, fixed by pat on {p.at[:10]}; policy 4.2):\n")
    before = len(runs_of(case.uri, "case-tool-21"))
    other_policy = tmp_path / "policy.yaml"
    from importlib import resources

    text = resources.files("harness.policies").joinpath("default.yaml").read_text()
    other_policy.write_text(text.replace('version: "2026.11"', 'version: "2026.12"'))
    newer = load_policy(other_policy)
    tool = str(case.tool)
    cases = {
        "policy": (["--policy", str(other_policy)],
                   f"  - policy {newer.label} differs from the plan's {POLICY.label}\n"),
        "suite": (["--suite", "degradation"], "  - suites degradation differ from the plan's bias\n"),
        "seed": (["--seed", "7"], "  - seed 7 differs from the plan's 11\n"),
    }
    for extra, line in cases.values():
        code, out, err = invoke("assess", tool, "--plan", str(p.plan_id), "--tracking-uri", case.uri, *extra)
        assert (code, out, err) == (2, "", head + line)
    old, new = _new_data_version(case.card)
    cases["dataset"] = ([], f"  - dataset case-21: sha256 {new[:12]}... differs from the plan's {old[:12]}...\n")
    code, out, err = invoke("assess", tool, "--plan", str(p.plan_id), "--tracking-uri", case.uri)
    assert (code, out, err) == (2, "", head + cases["dataset"][1])
    code, _out, err = invoke("assess", tool, "--plan", str(p.plan_id), "--tracking-uri", case.uri, "--seed", "7",
                             "--suite", "degradation", "--policy", str(other_policy))
    assert (code, err) == (2, head + cases["suite"][1] + cases["dataset"][1] + cases["policy"][1] + cases["seed"][1])
    assert len(runs_of(case.uri, "case-tool-21")) == before  # nothing was run or recorded
    assert [d.action for d in gate.history(case.uri, "case-tool-21").records] == ["submit"]


@pytest.mark.slow
def test_an_assessment_that_keeps_to_its_plan_runs_and_cites_it(case: Case, tmp_path: Path) -> None:
    p = case.plan
    code, out, err = invoke("assess", str(case.tool), "--plan", str(p.plan_id), "--tracking-uri", case.uri,
                            "--by", "dana", "--out", str(tmp_path / "o"))
    assert code in (0, 3), out + err
    result = json.loads((tmp_path / "o" / "assessment.json").read_text())
    suites = [s["suite"] for s in result["suites"]]
    assert (result["seed"], suites, result["extra"]["plan"]) == (11, ["bias"], p.plan_id)
    [run] = [r for r in runs_of(case.uri, "case-tool-21") if r.data.tags.get("harness.kind") == "pre-acquisition"]
    tags = run.data.tags
    assert (tags["harness.plan"], tags["harness.seed"], tags["harness.suites"]) == (p.plan_id, "11", "bias")
    recorded = (tmp_path / "o" / "inputs" / "plan.json").read_text()
    assert tags["harness.inputs_sha256"] == hashlib.sha256(recorded.encode()).hexdigest()
    inputs = Plan.from_document(json.loads(recorded))
    assert differences(p, inputs) == []
    assert (inputs.by, inputs.manifest, inputs.at) == ("dana", str(case.tool.resolve()), result["started_at"])
    # the plan a re-assessment repeats: the recorded inputs, citing the plan; an edited record is refused
    assert recorded_plan(Store(case.uri), run.info.run_id) == replace(inputs, plan_id=p.plan_id)
    assert recorded_plan(Store(case.uri), run.info.run_id).plan_id == p.plan_id
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=case.uri).set_tag(run.info.run_id, "harness.inputs_sha256", "0" * 64)
    with pytest.raises(ConfigError) as e:
        recorded_plan(Store(case.uri), run.info.run_id)
    assert str(e.value) == (f"the recorded inputs of run {run.info.run_id} were altered: inputs/plan.json has sha256 "
                            f"{tags['harness.inputs_sha256'][:12]}..., the run recorded 000000000000...")
    # a second plan made now says it came after an assessment of the version
    later = make_plan(case.uri, "case-tool-21", "1.0", datasets=[str(case.card)], by="pat")
    assert (later.assessments_before, later.suites) == (1, ("bias", "data_quality", "degradation", "explainability",
                                                            "performance"))


def test_the_plan_command_prints_the_id_and_an_altered_plan_is_refused(case: Case) -> None:
    code, out, err = invoke("plan", "case-tool-21:1.0", "--dataset", str(case.card), "--suite", "bias", "--by", "pat",
                            "--seed", "3", "--tracking-uri", case.uri)
    assert code == 0, err
    plan_id = out.split()[1]
    p = load_plan(Store(case.uri), plan_id)
    assert out.startswith(f"plan {plan_id} for case-tool-21 1.0 fixed by pat at {p.at} (sha256 {p.sha256[:12]}...)\n")
    assert f"next: harness assess TOOL_YAML --plan {plan_id}\n" in out and p.seed == 3
    code, _out, err = invoke("plan", "case-tool-21", "--dataset", str(case.card), "--by", "pat",
                             "--tracking-uri", case.uri)
    assert (code, err) == (2, "error: 'case-tool-21' names no version; write TOOL:VERSION (e.g. case-tool-21:2.1.0), "
                              "as `harness status case-tool-21` lists them\n")

    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=case.uri).set_tag(plan_id, "harness.plan.sha256", "0" * 64)
    code, _out, err = invoke("assess", str(case.tool), "--plan", plan_id, "--tracking-uri", case.uri)
    assert (code, err) == (2, f"error: plan {plan_id} was altered: its plan.json has sha256 {p.sha256[:12]}..., but "
                              "the plan was stored with sha256 000000000000...\n")
    code, _out, err = invoke("assess", str(case.tool), "--plan", "f" * 32, "--tracking-uri", case.uri)
    assert (code, err) == (2, f"error: no plan {'f' * 32!r} in {case.uri}: give the id `harness plan` printed\n")
    reg_run = next(r.info.run_id for r in runs_of(case.uri, "case-tool-21/submissions")
                   if r.data.tags.get("harness.kind") == "registration")
    code, _out, err = invoke("assess", str(case.tool), "--plan", reg_run, "--tracking-uri", case.uri)
    assert (code, err) == (2, f"error: run {reg_run} in {case.uri} is not a plan (its harness.kind is "
                              "'registration')\n")


def test_a_run_from_before_recorded_inputs_is_repeated_by_its_tags(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(tracking_uri=uri)
    exp = c.create_experiment("harness/old-tool", artifact_location=(tmp_path / "art").as_uri())
    tags = {"harness.tool_id": "old-tool", "harness.tool_version": "3", "harness.suites": "bias,degradation",
            "harness.policy": POLICY.label, "harness.policy_digest": POLICY.digest, "harness.seed": "9",
            "harness.manifest_digest": A, "harness.dataset.adult": B, "harness.dataset.german-credit": C,
            "harness.submitter": "dana"}
    run = c.create_run(exp, tags=tags).info.run_id
    assert recorded_plan(Store(uri), run) == Plan(
        tool="old-tool", version="3", manifest_digest=A, suites=("bias", "degradation"),
        datasets=(PlannedDataset("adult", "adult", B), PlannedDataset("german-credit", "german-credit", C)),
        policy=POLICY.label, policy_digest=POLICY.digest, seed=9, by="dana")
    c.delete_tag(run, "harness.seed")
    with pytest.raises(ConfigError, match=rf"^run {run} records no plan \(inputs/plan.json\) and lacks the tag\(s\) "
                                          r"\['harness.seed'\] to rebuild one; assess the tool again"):
        recorded_plan(Store(uri), run)
    with pytest.raises(ConfigError, match=rf"^no MLflow run 'nope' in {uri}$"):
        recorded_plan(Store(uri), "nope")
