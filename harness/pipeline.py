"""The assessment pipeline behind `harness assess` and `harness demo`: validate every input first,
then run the tool and the suites, then record. Bad input stops before anything is run or recorded;
a tool that fails mid-run is still recorded with verdict ERROR (policy 3.2: keep the record)."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.assessment import AssessmentResult, assess
from harness.datasets import load_dataset
from harness.errors import TrackingError
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.registry import resolve
from harness.report import write_reports
from harness.tools import load_tool
from harness.tracking import AssessmentRun, check_reachable, resolve_uri


@dataclass(frozen=True)
class Recorded:
    result: AssessmentResult
    out_dir: Path
    tracking_uri: str


def run_assessment(
    manifest_path: str | Path,
    datasets: list[str],
    *,
    suites: list[str] | None = None,
    policy_path: str | Path | None = None,
    tracking_uri: str | None = None,
    data_dir: str | Path | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    kind: str = "pre-acquisition",
    tool_obj: Any = None,
    progress: Callable[[str], None] | None = None,
) -> Recorded:
    say = progress or (lambda _m: None)
    manifest = load_manifest(manifest_path)
    policy = load_policy(policy_path)
    suite_objs = resolve(suites, manifest.category, policy.required_suites)
    if not datasets:
        from harness.errors import ConfigError

        raise ConfigError("no dataset given: pass --dataset NAME (see `harness datasets list`)")
    say("verifying datasets")
    refs = [load_dataset(d, data_dir) for d in datasets]
    uri = resolve_uri(tracking_uri)
    check_reachable(uri)
    tool = load_tool(manifest, tool_obj)
    result = assess(manifest, tool, refs, suite_objs, policy, seed=seed, kind=kind, progress=say)

    say("recording the assessment in MLflow")
    run = AssessmentRun(uri, manifest.id, f"{manifest.id} {manifest.version} {kind}")
    ok = False
    try:
        result = result.with_run_id(run.run_id)
        out_dir = Path(out) if out else Path("reports") / manifest.id / run.run_id
        files: list[tuple[Path, str | None]] = [(p, None) for p in write_reports(result, out_dir)]
        inputs = out_dir / "inputs"
        inputs.mkdir(exist_ok=True)
        shutil.copyfile(manifest_path, inputs / "tool.yaml")
        (inputs / "policy.yaml").write_text(yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False))
        files += [(inputs / "tool.yaml", "inputs"), (inputs / "policy.yaml", "inputs")]
        for ds in refs:
            card_copy = inputs / f"{ds.name}.card.yaml"
            shutil.copyfile(ds.card_path, card_copy)
            files.append((card_copy, "inputs"))
        run.record(result, files)
        ok = True
    except OSError as e:
        raise TrackingError(f"could not write the reports or artifacts: {e}") from None
    finally:
        run.close(ok and result.error is None)
    return Recorded(result=result, out_dir=out_dir, tracking_uri=uri)
