"""Suite discovery through the `harness.suites` entry-point group (the pytest/pluggy way).

Built-in suites come through the same door as a third party's. The entry points are read once per process
and a suite's module is imported only when it is asked for (issue 13, section 5). Loading fails closed: a
plugin that cannot be imported, is not a Suite, or reuses a name is an error, because an assessment that
silently lost a suite would report a PASS it never tested.
"""
from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from harness.check import Suite
from harness.errors import ConfigError

GROUP = "harness.suites"


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{ep.value} (distribution {dist.name} {dist.version})" if dist else ep.value


@cache
def _discovered() -> dict[str, EntryPoint]:
    """The installed suites' entry points by name, read once per process from the distributions' metadata
    (no plugin is imported here). Two plugins with one name are an error, whether or not either is wanted."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found:
            raise ConfigError(
                f"two installed plugins register the suite name {ep.name!r}: {_origin(found[ep.name])} "
                f"and {_origin(ep)}. Uninstall one of them; the harness will not guess which to trust."
            )
        found[ep.name] = ep
    return dict(sorted(found.items()))


@cache
def load_suite(name: str) -> type[Suite]:
    """One installed suite's class, its module imported on first use (an assessment imports only the suites
    it runs and the policy names). Fails closed like `load_suites`."""
    ep = _discovered()[name]
    try:
        obj = ep.load()
    except Exception as e:
        raise ConfigError(
            f"suite plugin {ep.name!r} from {_origin(ep)} failed to import: {type(e).__name__}: {e}. "
            f"Fix or uninstall it."
        ) from None
    if not (isinstance(obj, type) and issubclass(obj, Suite)):
        raise ConfigError(f"suite plugin {ep.name!r} from {_origin(ep)} is not a harness.check.Suite")
    if getattr(obj, "name", None) != ep.name:
        declared = getattr(obj, "name", None)
        raise ConfigError(f"suite plugin {ep.name!r} from {_origin(ep)} declares the name {declared!r}")
    return obj


def installed() -> list[str]:
    """The names of the installed suites, without importing any of them."""
    return list(_discovered())


def load_suites() -> dict[str, type[Suite]]:
    """Every installed suite's class by name (imports every plugin: `suites list`, policy checks)."""
    return {name: load_suite(name) for name in _discovered()}


def provenance(names: list[str]) -> dict[str, dict[str, str]]:
    """Which plugin build measured the tool (issue 13): for each suite name, the entry point and the installed
    distribution and version it came from, as the assessment records them (`assessment.json` extra
    `suite_provenance`, run tags `harness.suite.<name>`). A suite a test registered by hand has no entry point
    and is recorded as such, never guessed."""
    eps = _discovered()
    out: dict[str, dict[str, str]] = {}
    for name in names:
        ep = eps.get(name)
        dist = getattr(ep, "dist", None) if ep is not None else None
        out[name] = {"entry_point": ep.value if ep is not None else "not installed through an entry point",
                     "distribution": dist.name if dist is not None else "unknown",
                     "version": dist.version if dist is not None else "unknown"}
    return out


def resolve(names: list[str] | None, category: str, required: dict[str, list[str]]) -> list[Suite]:
    """The suites to run: those named, else the policy's required suites for the tool's category."""
    available = installed()
    wanted = list(names) if names else list(required.get(category, []))
    if not wanted:
        raise ConfigError(
            f"the policy requires no suite for category {category!r} and none was named: pass --suite NAME "
            f"(installed: {', '.join(available) or 'none'})"
        )
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise ConfigError(
            f"unknown suite(s) {unknown}; installed suites: {', '.join(available) or 'none'}"
        )
    return [load_suite(n)() for n in dict.fromkeys(wanted)]
