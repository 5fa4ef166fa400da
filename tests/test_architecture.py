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
import functools
import re
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
    """Every import in a file (module level, in functions, under TYPE_CHECKING), in source order. Each file is
    parsed once per version (several rules here read the whole tree)."""
    stat = path.stat()
    return list(_imports_of(root, path, stat.st_mtime_ns, stat.st_size))


LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
"""One line of source with its end, split as `ast.get_source_segment` splits (at \r\n, \r or \n only)."""


def source_segment(lines: list[str], node: ast.stmt) -> str:
    """`ast.get_source_segment(source, node)` on the file's lines split once: the library splits the whole file,
    a character at a time in Python, on every call, which made this file's tree walk 4.5 s of CPU."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    start, end = node.col_offset, node.end_col_offset
    if first == last:
        return lines[first].encode()[start:end].decode()
    return "".join([lines[first].encode()[start:].decode(), *lines[first + 1:last],
                    lines[last].encode()[:end].decode()])


@functools.lru_cache(maxsize=4096)
def _imports_of(root: Path, path: Path, _mtime_ns: int, _size: int) -> tuple[Import, ...]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    lines = LINE.findall(source)
    module = module_name(root, path)
    rel = path.relative_to(root)
    out: list[Import] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        statement = " ".join(source_segment(lines, node).split())
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = (resolve_relative(module, path.name == "__init__.py", node.level, node.module) if node.level
                    else node.module or "")
            targets = [f"{base}.{alias.name}" if alias.name != "*" else base for alias in node.names]
        out.extend(Import(rel, node.lineno, module, t, statement) for t in targets)
    return tuple(sorted(out, key=lambda i: (i.line, i.target)))


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


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """module -> the modules of the tree it imports (any import: lazy, TYPE_CHECKING or not, since each is an
    edge a reader must follow). Importing a package's own submodule from its `__init__` counts like any other."""
    known = modules(root, packages)
    graph: dict[str, set[str]] = {m: set() for m in known}
    for m, path in known.items():
        for imp in imports_of(root, path):
            target = module_of(imp.target, known)
            if target is not None and target != m:
                graph[m].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted: every import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def private_imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """file:line: statement for each `from x import _name` of a module of the tree by another module: a name
    with a leading underscore is its module's own business (issue 13: a small public API instead)."""
    known = modules(root, packages)
    found = []
    for path in (p for package in packages for p in source_files(root, package)):
        for imp in imports_of(root, path):
            owner, _, name = imp.target.rpartition(".")
            if name.startswith("_") and not name.startswith("__") and module_of(owner, known) is not None:
                found.append(imp.where())
    return list(dict.fromkeys(found))


def test_the_import_graph_has_no_cycle() -> None:
    found = cycles(import_graph(ROOT))
    assert not found, "import cycles (each list is one strongly connected set of modules):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_no_module_imports_another_modules_private_names() -> None:
    found = private_imports(ROOT)
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_the_cycle_and_private_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    _write(tmp_path, {
        "harness/__init__.py": "",
        "harness/a.py": "from harness.b import thing\n",
        "harness/b.py": "def f():\n    from harness import c  # lazy, still an edge\n",
        "harness/c.py": "from harness.a import _secret\n",
        "harness/d.py": "from harness.c import x\n",
    })
    graph = import_graph(tmp_path, ("harness",))
    assert cycles(graph) == [["harness.a", "harness.b", "harness.c"]]
    assert private_imports(tmp_path, ("harness",)) == ["harness/c.py:1: from harness.a import _secret"]


HEAVY = ("mlflow", "great_expectations", "fairlearn", "aif360", "matplotlib")


def test_the_public_api_is_whole_and_light() -> None:
    """Every name README's "Public API" promises is importable from harness.api, is the object its home module
    defines (not a copy), and importing the API loads none of the heavy libraries."""
    import subprocess
    import sys

    code = ("import sys, json, harness.api as a; "
            "print(json.dumps({'names': sorted(a.__all__), 'missing': [n for n in a.__all__ if not hasattr(a, n)], "
            f"'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules)}}))")
    import json
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    got = json.loads(r.stdout)
    assert got["missing"] == [] and got["heavy"] == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("## Public API", 1)[1].split("\n## ", 1)[0]
    assert [n for n in got["names"] if f"`{n}`" not in listed] == []
    from harness import api
    from harness.check import Suite
    from harness.findings import Measurement
    from harness.measures.significance import holm
    assert (api.Suite, api.Measurement, api.holm) == (Suite, Measurement, holm)


def test_loading_every_suite_imports_no_heavy_library() -> None:
    """Every assessment's policy check loads every installed suite's class (`require_valid_settings`), whichever
    suites run; a suite module that imports a heavy library at its top charges every assessment for it. The HTTP
    client was one (the security suite named a constant of the transport: httpx brought trio and pygments, 0.3 s
    of each `harness assess` of a local model). Each suite imports what it needs when its checks run."""
    import json
    import subprocess
    import sys

    heavy = (*HEAVY, "sklearn", "scipy", "pandas", "httpx", "httpcore")
    code = ("import sys, json; from harness.plugins import load_suites; names = sorted(load_suites()); "
            f"print(json.dumps({{'suites': names, 'heavy': sorted(m for m in {heavy!r} if m in sys.modules)}}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    got = json.loads(r.stdout)
    assert {"bias", "data_quality", "security"} <= set(got["suites"])
    assert got["heavy"] == []


def test_the_third_party_plugins_use_only_the_public_api() -> None:
    """The plugins in tests/resources stand for a third party's: they import from harness.api and nothing else
    of the harness, so the API is enough to write a suite with its own settings and report section."""
    plugins = ROOT / "tests" / "resources" / "plugins"
    found = []
    for path in sorted(p for p in plugins.rglob("*.py") if "build" not in p.relative_to(plugins).parts):
        for imp in imports_of(plugins, path):
            if imp.target.split(".")[0] == "harness" and not imp.target.startswith("harness.api."):
                found.append(imp.where())
    assert found == []


def test_only_the_tracking_layer_and_the_sandbox_worker_import_mlflow() -> None:
    """A change of store stays in harness/tracking (README "Where everything is"); the sandbox worker loads an
    MLflow model inside the box and is the one exception."""
    allowed = ("harness/tracking/", "harness/sandbox/worker.py")
    found = [imp.where() for package in PACKAGES for path in source_files(ROOT, package)
             for imp in imports_of(ROOT, path)
             if imp.target.split(".")[0] == "mlflow" and not imp.file.as_posix().startswith(allowed)]
    assert found == []
