"""The import rules of the layout (issue 13), read from the source with `ast`: nothing here imports the code.

- A suite is a plugin: a module under `test_suites/<a>/` imports no other suite `test_suites.<b>`. What two
  suites both need is a measure of the harness (`harness.measures`), which any plugin may use.
- The harness never imports a suite: the built-in suites reach it through the `harness.suites` entry points,
  like any third-party plugin.

Every import statement counts, wherever it is: at module level, inside a function (a lazy import is still a
dependency, only a later one) and under `if TYPE_CHECKING:` (the type checker follows it). Relative imports
are resolved against the importing module's package, as Python does.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITES = "test_suites"
PACKAGES = ("harness", SUITES)


@dataclass(frozen=True)
class Import:
    """One name an import statement brings in, resolved to an absolute dotted name.

    `target` is the module for `import a.b` and `module.name` for `from module import name` (the name may be a
    submodule or an attribute: `module_of` finds the longest prefix that is a module of the tree)."""

    file: Path       # relative to the root of the tree
    line: int
    module: str      # the importing module, e.g. "test_suites.bias.checks"
    target: str      # e.g. "test_suites.bias.metrics.RATES"
    statement: str   # the statement as written, on one line

    def where(self) -> str:
        return f"{self.file.as_posix()}:{self.line}: {self.statement}"


def module_name(root: Path, path: Path) -> str:
    """Dotted module name of a source file: `pkg/sub/__init__.py` is "pkg.sub", `pkg/sub/mod.py` "pkg.sub.mod"."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path, package: str) -> list[Path]:
    """Every .py file of a package directory, sorted (build output excluded)."""
    return sorted(p for p in (root / package).rglob("*.py") if "build" not in p.relative_to(root).parts)


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Module name -> file for every module of the given packages."""
    return {module_name(root, p): p for package in packages for p in source_files(root, package)}


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of `from <level dots><name> import ...` written in `module`.

    One dot is the importing module's own package (the module itself for an `__init__.py`), each further dot
    one package up; going above the top-level package is an error, as it is for Python."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(package):
        raise ImportError(f"relative import beyond the top-level package in {module} (level {level})")
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, *([name] if name else [])])


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import in a file (module level, in functions, under TYPE_CHECKING), in source order."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    module = module_name(root, path)
    rel = path.relative_to(root)
    out: list[Import] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        statement = " ".join((ast.get_source_segment(source, node) or "").split())
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = (resolve_relative(module, path.name == "__init__.py", node.level, node.module) if node.level
                    else node.module or "")
            targets = [f"{base}.{alias.name}" if alias.name != "*" else base for alias in node.names]
        out.extend(Import(rel, node.lineno, module, t, statement) for t in targets)
    return sorted(out, key=lambda i: (i.line, i.target))


def module_of(target: str, known: dict[str, Path] | set[str]) -> str | None:
    """The longest prefix of an imported name that is a module of the tree (None for outside imports)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def suite_of(dotted: str) -> str | None:
    """"bias" for "test_suites.bias" and anything under it; None outside the suites."""
    parts = dotted.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] == SUITES else None


def cross_suite_imports(root: Path) -> list[str]:
    """file:line: statement (suite -> other suite) for each import of one suite by another."""
    found = []
    for path in source_files(root, SUITES):
        for imp in imports_of(root, path):
            own, other = suite_of(imp.module), suite_of(imp.target)
            if own is not None and other is not None and other != own:
                found.append(f"{imp.where()}  ({own} -> {other})")
    return list(dict.fromkeys(found))


def harness_imports_of_suites(root: Path) -> list[str]:
    """file:line: statement for each import of a suite (or of the test_suites package) by the harness."""
    found = []
    for path in source_files(root, "harness"):
        for imp in imports_of(root, path):
            if imp.target == SUITES or imp.target.startswith(SUITES + "."):
                found.append(imp.where())
    return list(dict.fromkeys(found))


def test_no_suite_imports_another_suite() -> None:
    found = cross_suite_imports(ROOT)
    assert not found, ("a suite imports another suite; move what both need into harness/measures:\n"
                       + "\n".join(found))


def test_the_harness_imports_no_suite() -> None:
    found = harness_imports_of_suites(ROOT)
    assert not found, ("the harness imports a suite; suites are plugins, reached through the `harness.suites` "
                       "entry points:\n" + "\n".join(found))


# ---------------------------------------------------------------------------------------------------------------
# the rules themselves, on a made-up tree: each finds what it must, relative, lazy and TYPE_CHECKING imports too


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


TREE = {
    "harness/__init__.py": "",
    "harness/measures/__init__.py": "",
    "harness/measures/counts.py": "import numpy as np\n",
    "harness/report/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import test_suites.a\n",
    "harness/report/view.py": "def f():\n    from test_suites import b\n    return b\n",
    "harness/plugins.py": "from .measures import counts\nfrom . import report\n",
    "test_suites/__init__.py": "",
    "test_suites/a/__init__.py": "from . import checks\nfrom .checks import X\n",
    "test_suites/a/checks.py": ("from harness.measures.counts import np\nfrom test_suites.a import data\n"
                                "from ..b.metrics import (\n    rate,\n    gap,\n)\nX = 1\n"),
    "test_suites/a/data.py": "def f():\n    import test_suites.b.metrics as m\n    return m\n",
    "test_suites/b/__init__.py": "from .. import a\n",
    "test_suites/b/metrics.py": "from .sub.deep import y\n",
    "test_suites/b/sub/__init__.py": "",
    "test_suites/b/sub/deep.py": "from ... import a\nfrom ...a.data import f\nfrom .. import metrics\ny = 1\n",
}


def test_relative_imports_resolve_as_python_does(tmp_path: Path) -> None:
    _write(tmp_path, TREE)
    targets = {p.relative_to(tmp_path).as_posix(): [i.target for i in imports_of(tmp_path, p)]
               for p in source_files(tmp_path, SUITES) + source_files(tmp_path, "harness")}
    assert targets["test_suites/a/__init__.py"] == ["test_suites.a.checks", "test_suites.a.checks.X"]
    assert targets["test_suites/a/checks.py"] == ["harness.measures.counts.np", "test_suites.a.data",
                                                  "test_suites.b.metrics.gap", "test_suites.b.metrics.rate"]
    assert targets["test_suites/b/__init__.py"] == ["test_suites.a"]
    assert targets["test_suites/b/sub/deep.py"] == ["test_suites.a", "test_suites.a.data.f", "test_suites.b.metrics"]
    assert targets["harness/plugins.py"] == ["harness.measures.counts", "harness.report"]
    known = modules(tmp_path)
    assert module_of("test_suites.b.metrics.gap", known) == "test_suites.b.metrics"
    assert module_of("harness.measures.counts.np", known) == "harness.measures.counts"
    assert module_of("numpy", known) is None
    assert resolve_relative("test_suites.b", True, 1, "sub") == "test_suites.b.sub"
    assert resolve_relative("test_suites.b.sub.deep", False, 3, None) == "test_suites"


def test_relative_import_above_the_top_package_is_an_error() -> None:
    with pytest.raises(ImportError) as e:
        resolve_relative("test_suites.a", False, 3, "x")
    assert str(e.value) == "relative import beyond the top-level package in test_suites.a (level 3)"


def test_the_rules_report_file_line_and_statement(tmp_path: Path) -> None:
    _write(tmp_path, TREE)
    assert cross_suite_imports(tmp_path) == [
        "test_suites/a/checks.py:3: from ..b.metrics import ( rate, gap, )  (a -> b)",
        "test_suites/a/data.py:2: import test_suites.b.metrics as m  (a -> b)",
        "test_suites/b/__init__.py:1: from .. import a  (b -> a)",
        "test_suites/b/sub/deep.py:1: from ... import a  (b -> a)",
        "test_suites/b/sub/deep.py:2: from ...a.data import f  (b -> a)",
    ]
    assert harness_imports_of_suites(tmp_path) == [
        "harness/report/__init__.py:3: import test_suites.a",
        "harness/report/view.py:2: from test_suites import b",
    ]
