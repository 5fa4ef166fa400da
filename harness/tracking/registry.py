"""Every MLflow Model Registry call of the harness, behind small functions that return plain data.

`harness.gate` decides; this module only stores and fetches, so the gate's rules never depend on
MLflow's entity classes and a change of MLflow API stays here. What lives where (the data model is
documented in `harness.gate`):

- a registered model per tool (name = tool id, tag `harness.kind=tool`), one model version per tool
  version string (tag `harness.tool_version`; MLflow's own version numbers are integers);
- a registered model per tool for its decision log (`<tool id> (decision log)`, tag
  `harness.kind=decision-log`), one model version per decision record. MLflow assigns version numbers
  itself, atomically (max + 1 inside one transaction, retried on a clash), and a version's tags are
  written in the same call that creates it: the only atomic append the registry offers, on SQLite and
  on a tracking server alike;
- small registration runs (`harness.kind=registration`) that carry a manifest when no assessment run does.

MLflow's tag limits, checked for 3.17: model-version tag values up to 100,000 characters on the SQL
stores (`MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH`), 5,000 bytes guaranteed on every backend (REST API
docs); run tag values up to 8,000 characters, longer ones are silently truncated. The gate keeps a
record under 5,000 characters for that reason.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import TrackingError
from harness.tracking.runs import SUBMISSIONS, client, experiment_id, sqlite_path

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

PAGE = 1000


@dataclass(frozen=True)
class VersionInfo:
    """One model version, as plain data: MLflow's number, its tags, where it points, when it was made."""

    number: int
    tags: dict[str, str]
    source: str = ""
    run_id: str | None = None
    created_ms: int = 0
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunFacts:
    """What the gate needs of a run: its tags and start time (the age of the evidence)."""

    run_id: str
    experiment_id: str
    tags: dict[str, str]
    start_ms: int
    status: str
    metrics: dict[str, float] = field(default_factory=dict)


def _code(e: Exception) -> str:
    return str(getattr(e, "error_code", ""))


class Registry:
    """One MLflow client for one store. Read calls on an embedded store that does not exist yet answer
    "nothing there" instead of creating the SQLite file (looking must not create a store)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._client: MlflowClient | None = None

    @property
    def exists(self) -> bool:
        db = sqlite_path(self.uri)
        return db is None or db.is_file()

    @property
    def c(self) -> MlflowClient:
        if self._client is None:
            self._client = client(self.uri)
        return self._client

    # -- registered models ---------------------------------------------------------------------------

    def ensure_model(self, name: str, tags: dict[str, str], description: str | None = None) -> None:
        """Create the registered model unless it exists; a concurrent creator winning is fine."""
        try:
            self.c.get_registered_model(name)
            return
        except Exception as e:
            if _code(e) == "PERMISSION_DENIED":  # a server with authentication: missing or not yours to read
                raise TrackingError(f"you may not read registered model {name!r} on {self.uri} (it may not exist "
                                    "yet): on a shared server an administrator opens a tool's records first "
                                    f"(`harness access open {name.removesuffix(' (decision log)')}`)") from None
            if _code(e) != "RESOURCE_DOES_NOT_EXIST":
                raise TrackingError(f"cannot read registered model {name!r} in {self.uri}: {e}") from None
        try:
            self.c.create_registered_model(name, tags=tags, description=description)
        except Exception as e:
            if _code(e) != "RESOURCE_ALREADY_EXISTS":
                raise TrackingError(f"cannot create registered model {name!r} in {self.uri}: {e}") from None

    def model_names(self, kind: str) -> list[str]:
        """Names of the registered models tagged `harness.kind=<kind>`, sorted."""
        if not self.exists:
            return []
        names: list[str] = []
        token: str | None = None
        while True:
            page = self.c.search_registered_models(max_results=PAGE, page_token=token)
            names += [m.name for m in page if m.tags.get("harness.kind") == kind]
            token = page.token
            if not token:
                return sorted(names)

    # -- model versions ------------------------------------------------------------------------------

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of a registered model, by ascending number; [] when the model does not exist."""
        if not self.exists:
            return []
        out: list[VersionInfo] = []
        token: str | None = None
        while True:
            page = self.c.search_model_versions(f"name = '{name}'", max_results=PAGE, page_token=token)
            out += [VersionInfo(number=int(v.version), tags=dict(v.tags), source=v.source or "",
                                run_id=v.run_id or None, created_ms=int(v.creation_timestamp or 0),
                                aliases=tuple(v.aliases or ())) for v in page]
            token = page.token
            if not token:
                return sorted(out, key=lambda v: v.number)

    def create_version(self, name: str, tags: dict[str, str], *, source: str, run_id: str | None = None,
                       description: str | None = None) -> int:
        """Create a model version with its tags in one call; returns the number MLflow assigned."""
        try:
            mv = self.c.create_model_version(name, source=source, run_id=run_id, tags=tags,
                                             description=description)
        except Exception as e:
            raise TrackingError(f"cannot create a version of registered model {name!r} in {self.uri}: {e}") from None
        return int(mv.version)

    def delete_version(self, name: str, number: int) -> None:
        self.c.delete_model_version(name, str(number))

    def set_version_tags(self, name: str, number: int, tags: dict[str, str]) -> None:
        """MLflow's SQL store looks a tag up and then inserts it, so two writers setting the same tag at once
        can collide on its unique key; the loser tries again (the tag then exists and is updated)."""
        import random
        import time

        for key, value in tags.items():
            for attempt in range(5):
                try:
                    self.c.set_model_version_tag(name, str(number), key, value)
                    break
                except Exception as e:
                    if "UNIQUE constraint" not in str(e) or attempt == 4:
                        raise
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    def alias(self, name: str, alias: str) -> int | None:
        """The version number holding an alias, or None (no such alias, or no such model)."""
        if not self.exists:
            return None
        try:
            return int(self.c.get_model_version_by_alias(name, alias).version)
        except Exception as e:
            if _code(e) in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                return None
            raise TrackingError(f"cannot read alias {alias!r} of {name!r} in {self.uri}: {e}") from None

    def set_alias(self, name: str, alias: str, number: int) -> None:
        self.c.set_registered_model_alias(name, alias, str(number))

    # -- runs ----------------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunFacts | None:
        if not self.exists:
            return None
        try:
            r = self.c.get_run(run_id)
        except Exception as e:
            if _code(e) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise TrackingError(f"cannot read MLflow run {run_id!r} in {self.uri}: {e}") from None
        return RunFacts(run_id=r.info.run_id, experiment_id=r.info.experiment_id, tags=dict(r.data.tags),
                        start_ms=int(r.info.start_time or 0), status=r.info.status, metrics=dict(r.data.metrics))

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self.c.set_tag(run_id, key, value)

    def has_artifact(self, run_id: str, path: str) -> bool:
        folder = path.rsplit("/", 1)[0] if "/" in path else None
        return any(a.path == path for a in self.c.list_artifacts(run_id, folder))

    def log_file(self, run_id: str, local: Path, folder: str | None) -> None:
        self.c.log_artifact(run_id, str(local), folder)

    def registration_run(self, tool_id: str, run_name: str, tags: dict[str, str], manifest_path: Path,
                         files: dict[str, str] | None) -> str:
        """A small finished run in the tool's submissions experiment holding the manifest (`inputs/tool.yaml`)
        and the digests of the submitted files (`registration/files.json`), for a version no assessment
        run carries yet."""
        from mlflow.entities import RunTag

        exp = experiment_id(self.c, self.uri, tool_id, SUBMISSIONS)
        run_id = self.c.create_run(exp, run_name=run_name).info.run_id
        ok = False
        try:
            self.c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "tool.yaml"
                copy.write_bytes(manifest_path.read_bytes())
                self.c.log_artifact(run_id, str(copy), "inputs")
                if files is not None:
                    listing = Path(tmp) / "files.json"
                    listing.write_text(json.dumps(files, indent=1, sort_keys=True))
                    self.c.log_artifact(run_id, str(listing), "registration")
            ok = True
        finally:
            self.c.set_terminated(run_id, "FINISHED" if ok else "FAILED")
        return run_id

    def file_run(self, key: str, run_name: str, tags: dict[str, str], files: dict[str, bytes]) -> str:
        """A small finished run in experiment `harness/<key>` holding `files` (artifact name -> bytes) exactly
        as given, so a record can name a file anyone with the store fetches back byte for byte (e.g. the
        policy in force, `harness.gate.policies`)."""
        from mlflow.entities import RunTag

        exp = experiment_id(self.c, self.uri, key)
        run_id = self.c.create_run(exp, run_name=run_name).info.run_id
        ok = False
        try:
            self.c.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            with tempfile.TemporaryDirectory() as tmp:
                for name, data in files.items():
                    (Path(tmp) / name).write_bytes(data)
                    self.c.log_artifact(run_id, str(Path(tmp) / name))
            ok = True
        finally:
            self.c.set_terminated(run_id, "FINISHED" if ok else "FAILED")
        return run_id

    def artifact_bytes(self, run_id: str, path: str) -> bytes | None:
        """One artifact of a run, byte for byte; None when the run or the artifact is not there."""
        if not self.exists:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = Path(self.c.download_artifacts(run_id, path, tmp))
            except Exception:
                return None
            return local.read_bytes() if local.is_file() else None


def tags_text(tags: dict[str, Any]) -> dict[str, str]:
    """MLflow tag values are strings; None means "no tag"."""
    return {k: str(v) for k, v in tags.items() if v is not None}
