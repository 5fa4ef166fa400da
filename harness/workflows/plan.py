"""Pre-registered assessment plans (issue 6; policy 4.2 and 4.3: an assessment judged by rules fixed in
advance, and re-assessed by the same rules).

`harness plan TOOL:VERSION` locks, before any vendor result is seen, what an assessment of a registered
tool version will be: the suites, each dataset (its card's data sha256 and the card file's own sha256),
the policy (by digest), the seed and the registered manifest (by digest). `harness assess --plan ID`
then refuses to run, listing every difference, when any input differs; inputs it is not given are taken
from the plan. Without such a lock an analyst could re-run with another dataset, suite or seed until the
verdict suits, and nobody could tell afterwards.

Every assessment also records the plan it actually ran by (`inputs/plan.json`, its sha256 in the run tag
`harness.inputs_sha256`, the manifest's path included), so a re-assessment (`harness.workflows.reassess`) repeats
exactly the approved run: the same suites, datasets by hash, policy by digest and seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, DatasetError, GateError
from harness.gate import canonical, sha256_text

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.tracking.store import Store

SCHEMA = "harness.plan/1"
PLAN_TAG = "harness.plan"  # on an assessment run: the id of the plan it was held to
INPUTS_TAG = "harness.inputs_sha256"  # on an assessment run: sha256 of its inputs/plan.json
INPUTS_ARTIFACT = "inputs/plan.json"


@dataclass(frozen=True)
class PlannedDataset:
    """A dataset as a plan locks it: the data's sha256 (as its card declares and the loader verifies) and
    the card file's sha256 (the card names the target, groups and references the checks judge by)."""

    name: str
    ref: str  # the catalogue name, or the card's absolute path
    sha256: str
    card_sha256: str | None = None  # None only in a plan rebuilt from an old run's tags

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ref": self.ref, "sha256": self.sha256, "card_sha256": self.card_sha256}


@dataclass(frozen=True)
class Plan:
    """The rules an assessment is held to. `plan_id` (the MLflow run holding it) is not part of the
    hashed document; `manifest` (where the manifest file was) is set only in the plan an assessment
    recorded, for re-running it."""

    tool: str
    version: str
    manifest_digest: str
    suites: tuple[str, ...]
    datasets: tuple[PlannedDataset, ...]
    policy: str  # label: name@version sha256:...
    policy_digest: str
    seed: int
    by: str = ""
    at: str = ""
    assessments_before: int = 0
    manifest: str | None = None
    # the folder of the tool's production samples (harness.monitoring, issue 16), absolute; only in the document
    # when given, so a plan without one hashes as before
    monitoring: str | None = None
    plan_id: str | None = field(default=None, compare=False)
    schema: str = SCHEMA

    def document(self) -> dict[str, Any]:
        return {"schema": self.schema, "tool": self.tool, "version": self.version,
                "manifest_digest": self.manifest_digest, "suites": list(self.suites),
                "datasets": [d.as_dict() for d in self.datasets], "policy": self.policy,
                "policy_digest": self.policy_digest, "seed": self.seed, "by": self.by, "at": self.at,
                "assessments_before": self.assessments_before, "manifest": self.manifest,
                **({"monitoring": self.monitoring} if self.monitoring else {})}

    @property
    def text(self) -> str:
        return canonical(self.document())

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    @classmethod
    def from_document(cls, doc: dict[str, Any], plan_id: str | None = None) -> Plan:
        if not str(doc.get("schema", "")).startswith("harness.plan/"):
            raise ConfigError(f"plan {plan_id or ''} is not a harness plan (schema {doc.get('schema')!r})".strip())
        return cls(tool=doc["tool"], version=str(doc["version"]), manifest_digest=doc["manifest_digest"],
                   suites=tuple(doc["suites"]),
                   datasets=tuple(PlannedDataset(name=d["name"], ref=d["ref"], sha256=d["sha256"],
                                                 card_sha256=d.get("card_sha256")) for d in doc["datasets"]),
                   policy=doc["policy"], policy_digest=doc["policy_digest"], seed=int(doc["seed"]),
                   by=doc.get("by", ""), at=doc.get("at", ""), assessments_before=int(doc.get("assessments_before", 0)),
                   manifest=doc.get("manifest"), monitoring=doc.get("monitoring"), plan_id=plan_id,
                   schema=doc["schema"])

    def describe(self) -> str:
        """One line for people: what is locked."""
        ds = ", ".join(f"{d.name} (sha256 {d.sha256[:12]}...)" for d in self.datasets)
        watched = f"; production samples from {self.monitoring}" if self.monitoring else ""
        return (f"{self.tool} {self.version}: suites {', '.join(self.suites)}; datasets {ds}; policy {self.policy}; "
                f"seed {self.seed}; manifest sha256 {self.manifest_digest[:12]}...{watched}")


# -- building plans --------------------------------------------------------------------------------------


def _ref(name_or_path: str, card_path: Path) -> str:
    """A catalogue name stays a name (found again wherever the harness runs); a path is made absolute."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return str(card_path.resolve())
    return name_or_path


def dataset_facts(refs: list[str], data_dir: str | Path | None = None, *, verify: bool = False) -> list[PlannedDataset]:
    """Each dataset's card facts, read from the cards alone (cheap); with `verify`, the data file is also
    located and its sha256 checked against the card, so a plan never locks data that is not there."""
    from harness.datasets import find_card, load_card, locate_file
    from harness.workflows.bundle import sha256_file

    out: list[PlannedDataset] = []
    for ref in refs:
        path = find_card(ref)
        card = load_card(path)
        if verify:
            data = locate_file(card, path, data_dir)
            digest = sha256_file(data)
            if digest != card.sha256:
                raise DatasetError(f"the data file {data} does not match dataset card {path}: sha256 expected "
                                   f"{card.sha256}, found {digest}; a plan cannot lock data that differs from its card")
        out.append(PlannedDataset(name=card.name, ref=_ref(ref, path), sha256=card.sha256,
                                  card_sha256=sha256_file(path)))
    names = [d.name for d in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"dataset(s) {', '.join(twice)} given more than once")
    return out


def make_plan(uri: str, tool: str, version: str, *, datasets: list[str], by: str, suites: list[str] | None = None,
              policy: Policy | None = None, seed: int | None = None, data_dir: str | Path | None = None,
              now: datetime | None = None, monitoring: str | Path | None = None) -> Plan:
    """Lock the plan of an assessment of a registered tool version and store it in MLflow (returned with
    its `plan_id`). The version must be registered (`harness submit`, or an earlier assessment) and open."""
    from harness import gate
    from harness.plugins import resolve
    from harness.tracking.plans import log_plan
    from harness.tracking.store import Store

    what = f"plan of {tool} {version}"
    by = (by or "").strip()
    if not by:
        raise ConfigError(f"{what}: --by is empty: name the person who fixes the plan (policy 2.3)")
    if not datasets:
        raise ConfigError(f"{what}: no dataset given: pass --dataset NAME (see `harness datasets list`)")
    try:
        vs = gate.status(uri, tool, version)[0]
    except GateError as e:
        raise GateError(f"{what} refused: {e}; register the version first (`harness submit BUNDLE`)") from None
    if vs.state in ("rejected", "retired"):
        raise GateError(f"{what} refused: {tool} {version} is {vs.state}; a closed version is not assessed again "
                        "(policy 4.1)")
    if policy is None:  # the policy the City adopted (`harness policy adopt`), which assessments are judged under
        from harness.gate.policies import in_force

        policy = in_force(uri).policy
    from harness.tiering import require_tier

    # the answers recorded with the version, under the policy the plan locks (issue 16); a version recorded
    # without them keeps its declared tier
    require_tier(vs.manifest, policy, what, recorded=True)
    category = str(vs.manifest.get("category", ""))
    names = [s.name for s in resolve(list(suites) if suites else None, category, policy.required_suites)]
    facts = dataset_facts(list(datasets), data_dir, verify=True)
    before = sum(1 for d in gate.history(uri, tool).records if d.action == "assess" and d.version == version)
    at = (now or datetime.now(UTC)).astimezone(UTC)
    plan = Plan(tool=tool, version=version, manifest_digest=str(vs.submitted.manifest_digest), suites=tuple(names),
                datasets=tuple(facts), policy=policy.label, policy_digest=policy.digest,
                seed=policy.seed if seed is None else int(seed), by=by, at=at.isoformat(timespec="seconds"),
                assessments_before=before, monitoring=monitoring_source(monitoring))
    plan_id = log_plan(Store(uri), tool, version, plan.text, plan.sha256, by=by)
    return replace(plan, plan_id=plan_id)


def monitoring_source(folder: str | Path | None) -> str | None:
    """The monitoring folder as a plan records it (absolute), checked to exist: a plan never names a folder that is
    not there (harness.monitoring)."""
    if folder is None:
        return None
    p = Path(folder)
    if not p.is_dir():
        raise ConfigError(f"--monitoring {folder}: no such folder; name the folder where the department drops each "
                          "period's production sample (it may be empty until the first one)")
    return str(p.resolve())


# -- reading plans ---------------------------------------------------------------------------------------


def _parse(text: str, where: str) -> dict[str, Any]:
    """A plan read back from the store: whoever can write the store can replace it and its digest tag together,
    so it is read as outside data (size, depth and NaN limits of `safe_json`, issue 12)."""
    from harness.yamlio import safe_json

    try:
        doc = safe_json(text, where)
    except ValueError:
        raise ConfigError(f"{where} is not valid JSON: it was altered") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} is not a JSON object: it was altered")
    return doc


def load_plan(store: Store, plan_id: str) -> Plan:
    """A stored plan, verified against the sha256 recorded when it was made."""
    from harness.tracking.plans import PLAN_FILE, PLAN_KIND, PLAN_SHA_TAG

    found = store.run(plan_id)
    if found is None:
        raise ConfigError(f"no plan {plan_id!r} in {store.uri}: give the id `harness plan` printed")
    tags, status = found.tags, found.status
    if tags.get("harness.kind") != PLAN_KIND:
        raise ConfigError(f"run {plan_id} in {store.uri} is not a plan (its harness.kind is "
                          f"{tags.get('harness.kind')!r})")
    if status != "FINISHED":
        raise ConfigError(f"plan {plan_id} was not stored completely (its run is {status}); make the plan again")
    text = store.artifact_text(plan_id, PLAN_FILE)
    if text is None:
        raise ConfigError(f"plan {plan_id} has no {PLAN_FILE}: it was deleted; make the plan again")
    digest = sha256_text(text)
    if digest != tags.get(PLAN_SHA_TAG):
        raise ConfigError(f"plan {plan_id} was altered: its {PLAN_FILE} has sha256 {digest[:12]}..., but the plan was "
                          f"stored with sha256 {str(tags.get(PLAN_SHA_TAG))[:12]}...")
    return Plan.from_document(_parse(text, f"plan {plan_id}"), plan_id=plan_id)


def recorded_plan(store: Store, run_id: str) -> Plan:
    """The plan an assessment run was held to, for repeating it: its recorded `inputs/plan.json` (with the
    id of the pre-registered plan it cited, if any); for a run older than recorded inputs, the plan is
    rebuilt from its tags (datasets by catalogue name, no manifest path)."""
    found = store.run(run_id)
    if found is None:
        raise ConfigError(f"no MLflow run {run_id!r} in {store.uri}")
    tags = found.tags
    plan_id = tags.get(PLAN_TAG)
    text = store.artifact_text(run_id, INPUTS_ARTIFACT)
    if text is not None:
        digest = sha256_text(text)
        if digest != tags.get(INPUTS_TAG):
            raise ConfigError(f"the recorded inputs of run {run_id} were altered: {INPUTS_ARTIFACT} has sha256 "
                              f"{digest[:12]}..., the run recorded {str(tags.get(INPUTS_TAG))[:12]}...")
        return Plan.from_document(_parse(text, f"{INPUTS_ARTIFACT} of run {run_id}"), plan_id=plan_id)
    if plan_id:
        return load_plan(store, plan_id)
    prefix = "harness.dataset."
    needed = ("harness.tool_id", "harness.tool_version", "harness.suites", "harness.policy_digest", "harness.seed",
              "harness.manifest_digest")
    missing = [k for k in needed if not tags.get(k)]
    if missing:
        raise ConfigError(f"run {run_id} records no plan ({INPUTS_ARTIFACT}) and lacks the tag(s) {missing} to "
                          "rebuild one; assess the tool again with `harness assess` and approve that run")
    return Plan(tool=tags["harness.tool_id"], version=tags["harness.tool_version"],
                manifest_digest=tags["harness.manifest_digest"], suites=tuple(tags["harness.suites"].split(",")),
                datasets=tuple(PlannedDataset(name=k[len(prefix):], ref=k[len(prefix):], sha256=v)
                               for k, v in sorted(tags.items()) if k.startswith(prefix)),
                policy=tags.get("harness.policy", tags["harness.policy_digest"]),
                policy_digest=tags["harness.policy_digest"], seed=int(tags["harness.seed"]),
                by=tags.get("harness.submitter", ""))


# -- holding an assessment to a plan ---------------------------------------------------------------------


def _short(digest: str | None) -> str:
    return f"{str(digest)[:12]}..."


def differences(plan: Plan, actual: Plan) -> list[str]:
    """Every way `actual` (what an assessment is about to run) departs from `plan`, one sentence each."""
    out: list[str] = []
    if (actual.tool, actual.version) != (plan.tool, plan.version):
        out.append(f"tool {actual.tool} {actual.version} is not the plan's {plan.tool} {plan.version}")
    if actual.manifest_digest != plan.manifest_digest:
        out.append(f"manifest sha256 {_short(actual.manifest_digest)} differs from the plan's "
                   f"{_short(plan.manifest_digest)}")
    if sorted(actual.suites) != sorted(plan.suites):
        out.append(f"suites {', '.join(sorted(actual.suites))} differ from the plan's {', '.join(sorted(plan.suites))}")
    planned = {d.name: d for d in plan.datasets}
    given = {d.name: d for d in actual.datasets}
    for name in sorted(set(planned) | set(given)):
        p, a = planned.get(name), given.get(name)
        if a is None:
            out.append(f"dataset {name}: in the plan but not given")
        elif p is None:
            out.append(f"dataset {name}: not in the plan")
        elif a.sha256 != p.sha256:
            out.append(f"dataset {name}: sha256 {_short(a.sha256)} differs from the plan's {_short(p.sha256)}")
        elif p.card_sha256 is not None and a.card_sha256 != p.card_sha256:
            out.append(f"dataset {name}: its card's sha256 {_short(a.card_sha256)} differs from the plan's "
                       f"{_short(p.card_sha256)} (same data, changed card)")
    if actual.policy_digest != plan.policy_digest:
        out.append(f"policy {actual.policy} differs from the plan's {plan.policy}")
    if actual.seed != plan.seed:
        out.append(f"seed {actual.seed} differs from the plan's {plan.seed}")
    if actual.monitoring != plan.monitoring:
        out.append(f"monitoring source {actual.monitoring} differs from the plan's {plan.monitoring}")
    return out


def hold_to(plan: Plan, actual: Plan) -> None:
    """Refuse (ConfigError, exit 2) an assessment whose inputs differ from its plan, listing every difference."""
    diffs = differences(plan, actual)
    if diffs:
        which = f"plan {plan.plan_id}" if plan.plan_id else "the recorded plan"
        made = f", fixed by {plan.by} on {plan.at[:10]}" if plan.by and plan.at else ""
        raise ConfigError(f"assessment of {actual.tool} {actual.version} refused: its inputs differ from {which} "
                          f"({plan.tool} {plan.version}{made}; policy 4.2):\n" + "\n".join(f"  - {d}" for d in diffs))
