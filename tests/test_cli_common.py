"""The `harness.cli` package's shape (issue 13, section 3) and its one definition of the people flags.

The command modules import `harness.cli.common` and lower layers only, never the module that builds the group,
so any of them can be imported first; the flags that name a person come from `person_option`, whose rule, not
the flag's spelling, decides the default: `$HARNESS_USER` fills in who starts work, never who decides.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.common import LOGIN_NOTE, PERSON_RULES, person_option

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "harness" / "cli"
COMMAND_MODULES = ["access", "assess", "catalogue", "compare", "gate", "keys", "memo", "plan", "policy", "register",
                   "submit", "trend", "vendor"]


def _cli_imports(module: str) -> set[str]:
    """The `harness.cli` modules `module` imports, lazily or not."""
    tree = ast.parse((CLI / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness.cli"):
            found |= {node.module} if node.module != "harness.cli" else {f"harness.cli.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("harness.cli")}
    return found


def test_command_modules_import_common_and_console_only() -> None:
    assert sorted(p.stem for p in CLI.glob("*.py")) == sorted(
        ["__init__", "app", "common", "console", "process", *COMMAND_MODULES])
    for module in COMMAND_MODULES:
        assert _cli_imports(module) <= {"harness.cli.common", "harness.cli.console"}, module
    assert _cli_imports("common") == set()
    assert _cli_imports("console") == {"harness.cli.common"}
    assert _cli_imports("app") == {f"harness.cli.{m}" for m in COMMAND_MODULES}
    assert _cli_imports("process") == {"harness.cli.app"}  # the program's entry point, above the group


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_each_command_module_imports_first(module: str) -> None:
    """Before the package, importing `harness.cli_gate` first failed (`cannot import name 'STATE_STYLE' from
    partially initialized module`): the cycle through `harness.cli`."""
    code = (f"import harness.cli.{module} as m, harness.cli.app as app\n"
            "print(sorted(c.name for c in m.COMMANDS), all(app.main.commands[c.name] is c for c in m.COMMANDS))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("] True")


def test_the_group_holds_every_command_once() -> None:
    assert sorted(main.commands) == [
        "access", "approve", "assess", "check", "compare", "datasets", "demo", "due", "gate", "history", "inventory",
        "keys", "memo", "plan", "policy", "reassess", "records", "register", "reject", "report", "retire", "status",
        "submit", "suites", "suspend", "trend", "waive"]


def _probe(rule: str, flag: str = "--by") -> click.Command:
    @click.command()
    @person_option(flag, "Who does it.", rule)  # type: ignore[arg-type]
    def cmd(**kwargs: str | None) -> None:
        click.echo(repr(next(iter(kwargs.values()))))

    return cmd


@pytest.mark.parametrize(("rule", "env", "argv", "printed"), [
    ("starts", {"HARNESS_USER": "ana"}, [], "'ana'"),
    ("starts", {"HARNESS_USER": "ana"}, ["--by", "ben"], "'ben'"),
    ("starts", {}, [], "None"),
    ("decides", {"HARNESS_USER": "ana"}, [], "None"),
    ("decides", {"HARNESS_USER": "ana"}, ["--by", "ben"], "'ben'"),
    ("submits", {"HARNESS_USER": "ana"}, [], "None"),
])
def test_person_rule_decides_the_default(rule: str, env: dict[str, str], argv: list[str], printed: str) -> None:
    r = CliRunner().invoke(_probe(rule), argv, env={"HARNESS_USER": None, **env})  # type: ignore[dict-item]
    assert (r.exit_code, r.output) == (0, printed + "\n")


def test_the_author_of_a_plan_must_be_named() -> None:
    r = CliRunner().invoke(_probe("fixes"), [], env={"HARNESS_USER": "ana"})
    assert r.exit_code == 2
    assert "Missing option '--by'" in r.output


def test_person_option_fills_the_parameter_named_after_the_flag() -> None:
    r = CliRunner().invoke(_probe("decides", "--reviewer"), ["--reviewer", "carla"])
    assert (r.exit_code, r.output) == (0, "'carla'\n")
    assert [p.name for p in _probe("decides", "--reviewer").params] == ["reviewer"]


@pytest.mark.parametrize(("argv", "flag", "rule"), [
    (["assess"], "--by", "starts"), (["reassess"], "--by", "starts"), (["plan"], "--by", "fixes"),
    (["approve"], "--reviewer", "decides"), (["reject"], "--reviewer", "decides"),
    (["waive"], "--approver", "decides"), (["suspend"], "--by", "decides"), (["retire"], "--by", "decides"),
    (["policy", "adopt"], "--by", "decides"), (["submit"], "--submitter", "submits"),
    (["inventory", "add"], "--by", "decides"),
])
def test_every_people_flag_follows_its_rule(argv: list[str], flag: str, rule: str) -> None:
    """Each command's person flag carries its rule's environment variable, requirement and help sentence."""
    cmd: click.Command = main
    for name in argv:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    option = next(p for p in cmd.params if isinstance(p, click.Option) and flag in p.opts)
    expected = PERSON_RULES[rule]  # type: ignore[index]
    assert (option.envvar, option.required) == (expected.envvar, expected.required)
    assert option.help is not None and option.help.endswith(expected.help)
    assert (LOGIN_NOTE in option.help) == (rule != "fixes")
