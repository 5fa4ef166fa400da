"""Which types a skops file may hold to be loaded in the harness process: the City's decision, never the
vendor's (issue 12, section 1; policy 1.3 and 1.4: AI use must not bypass the City's security protocols).

skops' `trusted=` list is a code-execution switch: `functools.partial` + `builtins.eval` inside a
`FunctionTransformer` runs whatever the file says. So the list is made here, by the harness, from what it
knows to be inert data holders, and extended only by the analyst's policy (`settings.sandbox.trusted_types`):

* every scikit-learn estimator and transformer (`sklearn.utils.all_estimators()`), and the pure-Python
  internals that ordinary fitted models carry (loss and link objects, the histogram binner, the calibrated
  classifier's parts, the MLP's optimisers);
* numpy containers (`ndarray`, `dtype`, masked arrays, scalar types, random generators) and scipy's sparse
  matrices and arrays. A sparse matrix's indices are checked against its shape after loading
  (`check_loaded`): scipy indexes them in C without bounds checks, and skops does not look at them.

Left out on purpose, so a file holding them runs in the sandboxed worker like a pickle: functions of any
kind (a vendor's `FunctionTransformer(func)` names its function) and the Cython node stores whose raw
indices scikit-learn follows without bounds checks (`sklearn.tree._tree.Tree`, the histogram-gradient-
boosting `TreePredictor`, the neighbours' `KDTree`/`BallTree` and distance metrics): skops itself refuses to
trust them, because a crafted file loads cleanly and then crashes the process or reads memory out of
bounds at predict time. An analyst who accepts that risk for in-process loading names them in the policy.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, ToolConfigError

if TYPE_CHECKING:
    from harness.policy import Policy

SOURCE = "the harness allowlist (scikit-learn, numpy, scipy) plus the policy's settings.sandbox.trusted_types"
SKOPS_TRUST = "skops-trust"  # the rule a refused adapter.trusted names (policy 1.3: the City's security standards)

# modules no allowlisted type may come from, whatever a future scikit-learn does: they hold the functions and
# classes that turn data into code (eval, partial, getattr, system, import_module, loads ...)
NEVER = frozenset({"builtins", "functools", "operator", "os", "posix", "nt", "subprocess", "sys", "importlib",
                   "pickle", "codecs", "types", "runpy", "code", "ctypes", "marshal", "shutil", "socket", "io",
                   "pathlib", "tempfile", "threading", "multiprocessing", "signal", "webbrowser", "joblib",
                   "cloudpickle", "dill", "copyreg", "inspect", "gc", "pydoc", "pty", "platform", "http", "urllib"})

# Cython node stores scikit-learn indexes without bounds checks (skops.io.exceptions.UNTRUSTED_TYPE_REASONS)
NOT_TRUSTED = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
})
NOT_TRUSTED_MODULES = ("sklearn.metrics._dist_metrics",)  # DistanceMetric and its 32/64-bit subclasses

# pure-Python internals of ordinary fitted models that skops reports as untrusted; every class each module
# defines itself is taken (classes it merely imports are not)
_INTERNAL_MODULES = (
    "sklearn._loss.loss",
    "sklearn._loss.link",
    "sklearn.ensemble._hist_gradient_boosting.binning",
    "sklearn.neural_network._stochastic_optimizers",
)
_INTERNAL_CLASSES = (
    ("sklearn.calibration", "_CalibratedClassifier"),
    ("sklearn.calibration", "_SigmoidCalibration"),
)


def type_name(t: type) -> str:
    """A type's name as skops writes it in a file and reports it ("sklearn.tree._tree.Tree")."""
    try:
        from skops.io._utils import get_type_name

        return str(get_type_name(t))
    except ImportError:  # pragma: no cover - skops renamed its helper: its rule is module + name
        return f"{t.__module__}.{t.__name__}"


def _defined_in(module_name: str) -> list[type]:
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # a scikit-learn without this module: nothing of it can be in a file either
        return []
    return [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module_name]


def _numpy_scipy_types() -> list[type]:
    import numpy as np
    import scipy.sparse as sp

    types: list[type] = [np.ndarray, np.dtype, np.ma.MaskedArray, np.random.RandomState, np.random.Generator,
                         np.random.SeedSequence]
    types += [t for t in vars(np.random).values()
              if isinstance(t, type) and issubclass(t, np.random.BitGenerator) and t is not np.random.BitGenerator]
    types += [t for t in set(np.sctypeDict.values()) if isinstance(t, type)]
    types += [t for t in vars(sp).values() if isinstance(t, type) and issubclass(t, sp.sparray | sp.spmatrix)]
    return types


def _harmless(name: str, t: type) -> bool:
    return (inspect.isclass(t) and name.split(".")[0] in ("sklearn", "numpy", "scipy")
            and name not in NOT_TRUSTED and not name.startswith(NOT_TRUSTED_MODULES))


@functools.cache
def allowlist() -> frozenset[str]:
    """The harness-maintained list of type names skops may load in the harness process (classes only)."""
    from sklearn.utils import all_estimators

    types: list[type] = [cls for _, cls in all_estimators()]
    for module in _INTERNAL_MODULES:
        types += _defined_in(module)
    for module, name in _INTERNAL_CLASSES:
        cls = getattr(importlib.import_module(module), name, None)
        if isinstance(cls, type):
            types.append(cls)
    types += _numpy_scipy_types()
    names = {type_name(t): t for t in types}
    out = frozenset(n for n, t in names.items() if _harmless(n, t))
    assert not any(n.split(".")[0] in NEVER for n in out)  # the guard above admits only sklearn/numpy/scipy
    return out


def policy_types(policy: Policy | None) -> list[str]:
    """The types the analyst's policy adds (`settings.sandbox.trusted_types`); none without a policy."""
    if policy is None:
        return []
    value = policy.setting("sandbox", "trusted_types", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"policy {policy.label} settings.sandbox.trusted_types must be a list of type names "
                              f"(\"module.Name\"), got {value!r}")
    return list(value)


def city_trusted(policy: Policy | None) -> frozenset[str]:
    """Everything the City trusts a skops file to hold: the allowlist plus the policy's additions."""
    return allowlist() | frozenset(policy_types(policy))


def refuse_manifest_trust(manifest_id: str, asked: Iterable[str], policy: Policy | None) -> None:
    """A manifest's `adapter.trusted` may only repeat what the City already trusts: any other type is refused
    (listed), because the vendor would otherwise decide what code skops runs in the harness process."""
    extra = sorted(set(asked) - city_trusted(policy))
    if extra:
        raise ToolConfigError(trust_refusal(manifest_id, extra), rule=SKOPS_TRUST, section="1.3",
                              detail="settings.sandbox.trusted_types")


def trust_refusal(manifest_id: str, extra: list[str]) -> str:
    return (f"tool manifest {manifest_id!r} asks to trust {extra} in adapter.trusted; only the City decides "
            f"which types are trusted: {SOURCE}. Remove them from adapter.trusted: a model that needs other "
            f"types runs in the sandboxed worker")


def check_loaded(obj: Any, source: str, *, limit: int = 1_000_000) -> None:
    """Refuse a loaded model holding a scipy sparse matrix whose indices lie outside its shape (skops checks
    types, not contents; scipy's C code would read or write out of bounds at predict time)."""
    import numpy as np
    import scipy.sparse as sp

    seen: set[int] = set()
    stack = [obj]
    while stack and len(seen) < limit:
        o = stack.pop()
        if id(o) in seen or isinstance(o, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(o))
        if isinstance(o, sp.sparray | sp.spmatrix):
            try:  # compressed formats (csr, csc, bsr); coo checks its coordinates when built, dia its offsets
                if hasattr(o, "check_format"):
                    o.check_format(full_check=True)
            except (ValueError, TypeError, IndexError) as e:
                raise ToolConfigError(f"{source} holds a sparse matrix that is not well formed ({e}); it cannot "
                                      f"be loaded") from None
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
        elif isinstance(o, np.ndarray):
            if o.dtype == object:
                stack.extend(o.ravel().tolist())
        elif hasattr(o, "__dict__"):
            stack.extend(vars(o).values())


__all__ = ["SKOPS_TRUST", "SOURCE", "allowlist", "check_loaded", "city_trusted", "policy_types",
           "refuse_manifest_trust", "trust_refusal", "type_name"]
