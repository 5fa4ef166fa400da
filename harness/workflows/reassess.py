"""Scheduled re-assessment (issue 6; policy 4.3: regular risk assessments, more frequent for higher risk).

`harness reassess --due` re-runs every tool version in use whose re-assessment is due (`gate.due`) by the
plan its approval rests on (`harness.workflows.plan.recorded_plan`): the same suites, the same datasets verified by
hash, the same policy by digest and the same seed, as kind `reassessment`. The pipeline compares the
metrics with the approved baseline by itself (`gate.views.approved_baseline`, the degradation suite's
regression check). A chat endpoint is asked every question afresh: a cached answer is evidence about the
tool as it was, and a re-assessment asks how it is now (the answer cache is neither read nor written).
A FAIL suspends the approval (`gate.suspend`): the gate closes until someone approves
again on fresh evidence. A PASS or NEEDS_REVIEW keeps the approval and moves the next due date (it is
counted from the latest completed assessment).

Made to run from cron:
- one tool's trouble (its tool crashes, a dataset is missing or changed, the policy moved on) is that
  tool's ERROR with the reason; the others still run, and a summary lists every outcome;
- the exit code is the worst outcome, worst first: FAIL (1, a gate was closed), ERROR (4), NEEDS_REVIEW
  (3), PASS (0);
- nothing is half-recorded: the assessment run is closed FAILED if it is interrupted while being
  recorded (the pipeline's `finally`; the CLI turns SIGTERM into an interrupt so that `finally` runs), the
  gate only hears of a run once it is fully recorded, and a FAILED or still RUNNING run is never
  evidence (`gate.approve` refuses it). If the process dies after a FAIL was recorded but before the
  suspension was, the next `reassess` finds the FAIL re-assessment still standing against an approval
  and records the suspension then.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness import gate
from harness.errors import ConfigError, GateError, HarnessError

if TYPE_CHECKING:
    from harness.monitoring import Monitored
    from harness.policy import Policy
    from harness.tracking.store import Store
    from harness.workflows.plan import Plan

KIND = "reassessment"
EXIT = {"PASS": 0, "NEEDS_REVIEW": 3, "ERROR": 4, "FAIL": 1}
SEVERITY = {"PASS": 0, "NEEDS_REVIEW": 1, "ERROR": 2, "FAIL": 3}  # worst last: a closed gate matters most
MAX_REASON_CHARS = 1500

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """What a re-assessment of one tool version came to, and what became of its approval."""

    tool: str
    version: str
    verdict: str  # PASS | NEEDS_REVIEW | FAIL | ERROR
    approval: str  # what happened to the approval, in a few words
    reason: str
    run_id: str | None = None
    next_due: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]

    def as_dict(self) -> dict[str, str | None]:
        return {"tool": self.tool, "version": self.version, "verdict": self.verdict, "run": self.run_id,
                "approval": self.approval, "next_due": self.next_due, "reason": self.reason}


def exit_code(outcomes: list[Outcome]) -> int:
    """The worst outcome's exit code (FAIL over ERROR over NEEDS_REVIEW over PASS); 0 when nothing ran."""
    if not outcomes:
        return 0
    return max(outcomes, key=lambda o: SEVERITY[o.verdict]).exit_code


# -- what to re-assess -------------------------------------------------------------------------------------


def _pending_suspension(vs: gate.VersionStatus) -> bool:
    """A FAIL re-assessment recorded after the approval in force, with no suspension after it: the process
    that recorded it stopped before it could suspend."""
    c, a = vs.completed, vs.approval
    return (vs.state in gate.USABLE and c is not None and a is not None and c.verdict == "FAIL"
            and (c.details or {}).get("kind") == KIND and c.seq > a.seq)


def select(uri: str, ref: str | None, *, due_only: bool, as_of: datetime | date | None = None,
           policy: Policy | None = None) -> tuple[list[tuple[str, str]], list[gate.VersionStatus], list[Outcome]]:
    """The versions to re-assess, the versions whose suspension is pending, and refusals (as outcomes).

    `due_only`: what `gate.due` lists by `as_of` (narrowed to `ref` when given). Otherwise `ref` names a
    version (TOOL:VERSION), or a tool whose versions in use are all re-assessed."""
    from harness.tracking.store import Store

    tool, version = gate.parse_ref(ref) if ref else (None, None)
    if not due_only and tool is None:
        raise ConfigError("name a tool version to re-assess (TOOL:VERSION) or pass --due for all that are due")
    if as_of is not None and not due_only:
        raise ConfigError("--as-of selects what is due: use it with --due")
    refused: list[Outcome] = []
    if due_only:
        items = gate.due(uri, as_of, policy=policy)
        chosen = [(i.tool, i.version) for i in items if tool in (None, i.tool) and version in (None, i.version)]
    else:
        assert tool is not None
        rows = gate.status(uri, tool, version)
        chosen = [(vs.tool, vs.version) for vs in rows if vs.state in gate.USABLE and vs.gate.open]
        if not chosen:
            for vs in rows:
                refused.append(Outcome(vs.tool, vs.version, "ERROR", "unchanged", f"{vs.tool} {vs.version} is not in "
                                       f"use, so there is no approval to re-assess ({vs.gate.reason}); assess it with "
                                       "`harness assess` and decide again"))
    pending: list[gate.VersionStatus] = []
    for t in [tool] if tool is not None else Store(uri).registry.model_names("tool"):
        try:
            pending += [vs for vs in gate.status(uri, t, version) if _pending_suspension(vs)]
        except GateError:  # a tool registered by a process that stopped before its first record
            continue
    done = {(vs.tool, vs.version) for vs in pending}
    return [c for c in chosen if c not in done], pending, refused


# -- the manifest of a registered version ----------------------------------------------------------------


@contextmanager
def located_manifest(store: Store, tool: str, version: str, plan: Plan, registered: str) -> Iterator[Path]:
    """The manifest file of a registered version: where the approved run found it, if it is still there
    unchanged; else the bundle the vendor submitted, downloaded from MLflow (it carries the model files)."""

    here = Path(plan.manifest) if plan.manifest else None
    problem = "no manifest path was recorded"
    if here is not None:
        if not here.is_file():
            problem = f"{here} is missing"
        elif (digest := gate.manifest_digest(here)) != registered:
            problem = f"{here} has sha256 {digest[:12]}..., not the registered {registered[:12]}..."
        else:
            yield here
            return
    infos = [v for v in store.registry.versions(tool) if v.tags.get("harness.tool_version") == version]
    source = store.run(infos[0].run_id) if infos and infos[0].run_id else None
    if source is not None and source.tags.get("harness.kind") == "submission":
        with tempfile.TemporaryDirectory(prefix="harness-reassess-") as tmp:
            bundle = store.download(source.run_id, "bundle", Path(tmp))
            path = bundle / "tool.yaml" if bundle is not None else None
            if path is not None and path.is_file() and gate.manifest_digest(path) == registered:
                yield path
                return
            problem += f"; the submitted bundle (run {source.run_id}) has no tool.yaml with the registered sha256"
    else:
        problem += "; the version was not submitted as a bundle (`harness submit`)"
    raise ConfigError(f"the manifest of {tool} {version} cannot be found: {problem}. Restore the manifest and the "
                      "files it names, or submit the version as a bundle")


# -- one version -----------------------------------------------------------------------------------------


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + "..."


def _due_text(uri: str, tool: str, version: str, policy: Policy) -> str | None:
    nd = gate.next_due(gate.status(uri, tool, version)[0], policy)
    return nd.date().isoformat() if nd else None


def watch(store: Store, plan: Plan, *, sample: str | Path | None, as_of: datetime | date | None,
          data_dir: str | Path | None, approved_run: str) -> Monitored | None:
    """The production sample this re-assessment runs on (`harness.monitoring`): `sample`, else the newest in the
    plan's monitoring folder not yet assessed for the version; None when the plan names no folder and no sample is
    given (the re-assessment repeats the approved run alone, as before issue 16). Its outcomes are held to the
    accuracy `approved_run` (its evidence already re-hashed) measured on the reference data (`monitoring.vetted`)."""
    from harness.datasets import load_dataset
    from harness.monitoring import Monitored, approved_accuracy, assessed_samples, choose, quarter_before, vetted
    from harness.tracking.assessments import load_assessment

    if not plan.monitoring and sample is None:
        return None
    reference = load_dataset(plan.datasets[0].ref, data_dir)
    source = plan.monitoring or str(Path(str(sample)).resolve().parent)
    expected = quarter_before(as_of or datetime.now(UTC))
    choice = choose(source, reference, assessed_samples(store, plan.tool, plan.version), expected=expected,
                    explicit=sample)
    if choice.sample is not None and choice.sample.dataset.outcomes_known:
        choice = vetted(choice, approved_accuracy(load_assessment(store, approved_run), reference.name))
    return Monitored(choice)


def reassess_one(uri: str, tool: str, version: str, *, by: str, policy: Policy, policy_path: str | Path | None,
                 data_dir: str | Path | None = None, out: str | Path | None = None,
                 progress: Progress | None = None, tool_obj: object = None, sample: str | Path | None = None,
                 as_of: datetime | date | None = None) -> Outcome:
    """Re-assess one version in use by the plan of its approval; suspend it on FAIL. Never raises a
    HarnessError or another exception of the tool's: each becomes this version's ERROR, with the reason."""
    from harness.tracking.evidence import check_run
    from harness.tracking.store import Store
    from harness.workflows.assess import run_assessment
    from harness.workflows.plan import recorded_plan

    say = progress or (lambda _m: None)
    store = Store(uri)
    try:
        vs = gate.status(uri, tool, version)[0]
        if vs.state not in gate.USABLE or not vs.gate.open or vs.approval is None:
            return Outcome(tool, version, "ERROR", "unchanged", f"{tool} {version} is not in use ({vs.gate.reason}); "
                           "there is no approval to re-assess")
        run_id = str(vs.approval.run_id)
        # the plan repeated is the approved run's own, as it was written: re-hash its files against the digest
        # the approval keeps (issue 11), so an edited inputs/plan.json cannot narrow the re-assessment
        bound = (vs.approval.details or {}).get("evidence_sha256")
        problems = check_run(store, run_id, bound) if bound else []
        if problems:
            return Outcome(tool, version, "ERROR", "unchanged; still due",
                           _short(f"the evidence of approved run {run_id} was altered, so its plan cannot be "
                                  f"repeated (rule 'intact-evidence', policy 3.2, 4.3): {'; '.join(problems)}"))
        plan = recorded_plan(store, run_id)
        if plan.policy_digest != policy.digest:
            return Outcome(tool, version, "ERROR", "unchanged; still due",
                           f"the current policy {policy.label} is not {plan.policy}, the policy approved run {run_id} "
                           "was judged under (policy 4.3: a re-assessment repeats the approved rules). Pass that "
                           "policy with --policy FILE, or assess under the current policy and approve again")
        watched = watch(store, plan, sample=sample, as_of=as_of, data_dir=data_dir, approved_run=run_id)
        folder = None
        if out is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            folder = Path(out) / tool / f"{version}-{stamp}"
        say(f"re-assessing {tool} {version}")
        with located_manifest(store, tool, version, plan, str(vs.submitted.manifest_digest)) as manifest:
            rec = run_assessment(manifest, [], plan=plan, policy_path=policy_path, tracking_uri=uri,
                                 data_dir=data_dir, kind=KIND, out=folder, submitter=by, progress=say,
                                 tool_obj=tool_obj, use_cache=False, watched=watched)
    except HarnessError as e:
        return Outcome(tool, version, "ERROR", "unchanged; still due", _short(str(e)))
    except Exception as e:  # a crash of ours or of the tool's code must not stop the other tools
        return Outcome(tool, version, "ERROR", "unchanged; still due",
                       _short(f"internal error: {type(e).__name__}: {e}"))
    result = rec.result
    verdict, new_run = result.verdict.value, str(result.run_id)
    because = _short(result.reasons[0]) if result.reasons else "no reason recorded"
    if verdict == "FAIL":
        return _suspend(uri, tool, version, by=by, run_id=new_run, because=because, policy=policy)
    if verdict == "ERROR":
        return Outcome(tool, version, "ERROR", "unchanged; still due", because, new_run,
                       _due_text(uri, tool, version, policy))
    approval = "kept" if verdict == "PASS" else "kept; a reviewer should look at the findings"
    return Outcome(tool, version, verdict, approval, because if verdict != "PASS" else "every judged finding passed",
                   new_run, _due_text(uri, tool, version, policy))


def _suspend(uri: str, tool: str, version: str, *, by: str, run_id: str, because: str, policy: Policy,
             late: bool = False) -> Outcome:
    reason = _short(f"re-assessment run {run_id} FAILED (policy 4.3): {because}")
    what = "suspended: the gate is closed"
    if late:
        what += " (the suspension had not been recorded when that run ended)"
    try:
        d = gate.suspend(uri, tool, version, by=by, reason=reason, run_id=run_id, policy=policy)
    except HarnessError as e:
        if gate.status(uri, tool, version)[0].state != "suspended":
            return Outcome(tool, version, "FAIL", f"NOT suspended: {e}; suspend it by hand (`harness suspend`)",
                           because, run_id)
        what = "suspended by someone else meanwhile: the gate is closed"
    else:
        from harness.notify.send import notify_suspension
        from harness.workflows.memo import refresh_after

        refresh_after(uri, d)  # the memos of this run and of the approved one say "suspended" (issue 15)
        notify_suspension(uri, d, policy)  # after the record; a failure to send is a line on stderr, nothing more
    return Outcome(tool, version, "FAIL", what, because, run_id)


def finish_pending(uri: str, vs: gate.VersionStatus, *, by: str, policy: Policy) -> Outcome:
    """Record the suspension a FAIL re-assessment called for but an interrupted process did not record."""
    c = vs.completed
    assert c is not None
    return _suspend(uri, vs.tool, vs.version, by=by, run_id=str(c.run_id), because=f"verdict {c.verdict}",
                    policy=policy, late=True)


def reassess(uri: str, ref: str | None = None, *, due_only: bool = False, as_of: datetime | date | None = None,
             by: str | None = None, policy_path: str | Path | None = None, data_dir: str | Path | None = None,
             out: str | Path | None = None, progress: Progress | None = None,
             sample: str | Path | None = None) -> list[Outcome]:
    """Re-assess what is selected, one version after another; every version gets an outcome. `sample`: the
    production sample card to run on (one tool version), instead of the newest new one of its monitoring folder."""
    if sample is not None and (ref is None or gate.parse_ref(ref)[1] is None):
        raise ConfigError("--sample names one tool's production sample: give that TOOL:VERSION too")
    from harness.policy import load_policy
    from harness.policy_check import require_valid_settings

    if policy_path is None:  # the policy the City adopted (`harness policy adopt`), else the packaged one
        from harness.gate.policies import in_force

        policy = in_force(uri).policy
    else:
        policy = load_policy(policy_path)
    require_valid_settings(policy, policy_path)
    from harness.gate.identity import actor_name

    who = actor_name(uri, by, "person re-assessing", "re-assessment")  # the login on a server with authentication
    chosen, pending, outcomes = select(uri, ref, due_only=due_only, as_of=as_of, policy=policy)
    for vs in pending:
        outcomes.append(finish_pending(uri, vs, by=who, policy=policy))
    for tool, version in chosen:
        outcomes.append(reassess_one(uri, tool, version, by=who, policy=policy, policy_path=policy_path,
                                     data_dir=data_dir, out=out, progress=progress, sample=sample, as_of=as_of))
    return outcomes
