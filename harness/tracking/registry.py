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
- small registration runs (`harness.kind=registration`) that carry a manifest when no assessment run does
  (made with `Store.finished_run`; runs and artifacts are read through the `Store` this registry belongs to).

MLflow's tag limits, checked for 3.17: model-version tag values up to 100,000 characters on the SQL
stores (`MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH`), 5,000 bytes guaranteed on every backend (REST API
docs); run tag values up to 8,000 characters, longer ones are silently truncated. The gate keeps a
record under 5,000 characters for that reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import TrackingError
from harness.tracking.runs import error_code

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


class Opened(Protocol):
    """What the registry needs of its `harness.tracking.store.Store` (named here, not imported: the store
    imports this module to offer `store.registry`, and the dependency runs one way)."""

    uri: str

    @property
    def exists(self) -> bool: ...

    @property
    def client(self) -> MlflowClient: ...

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


class Registry:
    """The Model Registry of one `Store`, on its client (`store.registry`). Read calls on an embedded store that
    does not exist yet answer "nothing there" instead of creating the SQLite file (looking must not create a
    store)."""

    def __init__(self, store: Opened) -> None:
        self.store = store

    @property
    def uri(self) -> str:
        return self.store.uri

    @property
    def exists(self) -> bool:
        return self.store.exists

    @property
    def c(self) -> MlflowClient:
        return self.store.client

    # -- registered models ---------------------------------------------------------------------------

    def ensure_model(self, name: str, tags: dict[str, str], description: str | None = None) -> None:
        """Create the registered model unless it exists; a concurrent creator winning is fine."""
        try:
            self.c.get_registered_model(name)
            return
        except Exception as e:
            if error_code(e) == "PERMISSION_DENIED":  # a server with authentication: missing or not yours to read
                raise TrackingError(f"you may not read registered model {name!r} on {self.uri} (it may not exist "
                                    "yet): on a shared server an administrator opens a tool's records first "
                                    f"(`harness access open {name.removesuffix(' (decision log)')}`)") from None
            if error_code(e) != "RESOURCE_DOES_NOT_EXIST":
                raise TrackingError(f"cannot read registered model {name!r} in {self.uri}: {e}") from None
        try:
            self.c.create_registered_model(name, tags=tags, description=description)
        except Exception as e:
            if error_code(e) != "RESOURCE_ALREADY_EXISTS":
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
            if error_code(e) in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                return None
            raise TrackingError(f"cannot read alias {alias!r} of {name!r} in {self.uri}: {e}") from None

    def set_alias(self, name: str, alias: str, number: int) -> None:
        self.c.set_registered_model_alias(name, alias, str(number))

    def aliases(self, name: str) -> dict[str, int]:
        """The aliases of a registered model (alias -> version number); {} when there is no such model.
        Read from the model itself: MLflow's version search leaves `aliases` empty on some stores."""
        if not self.exists:
            return {}
        try:
            model = self.c.get_registered_model(name)
        except Exception as e:
            if error_code(e) == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise TrackingError(f"cannot read registered model {name!r} in {self.uri}: {e}") from None
        return {str(k): int(v) for k, v in (model.aliases or {}).items()}


def tags_text(tags: dict[str, Any]) -> dict[str, str]:
    """MLflow tag values are strings; None means "no tag"."""
    return {k: str(v) for k, v in tags.items() if v is not None}
