"""YAML from outside the City (issue 12, hardening): a few hundred bytes of aliases must not become gigabytes.
Every file a user or vendor writes (tool.yaml, a dataset card, a policy, a bundle's MLmodel) is refused when it
uses an alias or is over the size limit, with one message naming the file and the line, before anything is
expanded."""
from __future__ import annotations

import resource
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import ConfigError
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.yamlio import MAX_YAML_BYTES, UnsafeYAML, safe_yaml
from tests.conftest import write_case

# nine levels of nine: 9**9 = 387,420,489 strings when expanded, from 340-odd bytes
BOMB = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join(f"*{chr(97 + i)}" for _ in range(9)) + "]\n" for i in range(8))


def test_the_bomb_is_small_and_refused_at_its_first_alias_without_expanding_it() -> None:
    assert len(BOMB) < 400
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UnsafeYAML) as e:
        safe_yaml(BOMB)
    assert str(e.value) == ("line 2 uses the YAML alias *a; aliases are not accepted (they can expand a small file "
                            "into gigabytes): write the value out")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB: nothing was expanded
    assert safe_yaml("a: [1, 2]\nb: {c: d}\n") == {"a": [1, 2], "b": {"c": "d"}}


def test_a_manifest_a_policy_and_a_card_with_aliases_are_refused_with_the_file(tmp_path: Path) -> None:
    tool, card = write_case(tmp_path / "case", n=50, seed=3)
    bombed = tool.with_name("bomb.yaml")
    bombed.write_text(tool.read_text() + BOMB)
    with pytest.raises(ConfigError) as e:
        load_manifest(bombed)
    assert str(e.value) == (f"tool manifest {bombed} is not accepted: line {len(tool.read_text().splitlines()) + 2} "
                            "uses the YAML alias *a; aliases are not accepted (they can expand a small file into "
                            "gigabytes): write the value out")
    policy = tmp_path / "policy.yaml"
    policy.write_text("x: &x 1\ny: *x\n")
    with pytest.raises(ConfigError, match=r"^policy file .*policy\.yaml is not accepted: line 2 uses the YAML alias "
                                          r"\*x; "):
        load_policy(policy)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * MAX_YAML_BYTES + "\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(big)
    assert str(e.value) == f"tool manifest {big} is not accepted: it is larger than 1,048,576 bytes"
    r = CliRunner().invoke(main, ["assess", str(bombed), "--dataset", str(card), "--tracking-uri",
                                  f"sqlite:///{tmp_path / 'm.db'}"])
    assert r.exit_code == 2 and "uses the YAML alias *a; aliases are not accepted" in r.output, r.output
    assert not (tmp_path / "m.db").exists()  # refused before any store was touched


def test_a_bundle_whose_manifest_has_aliases_is_refused(tmp_path: Path) -> None:
    tool, _ = write_case(tmp_path / "bundle", n=50, seed=4)
    tool.write_text(tool.read_text() + BOMB)
    r = CliRunner().invoke(main, ["submit", str(tool.parent), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert r.exit_code == 2, r.output
    assert "tool.yaml: not accepted: line " in r.output and "uses the YAML alias *a" in r.output


# -- libyaml's parser (issue 13: an assessment reads its policy five times) ------------------------------------


def pyyaml_lines(root: object) -> dict[tuple[str, ...], int]:
    """harness.yamlio.line_index computed from PyYAML's own pure-Python composer (the reference)."""
    import yaml

    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, at: tuple[str, ...]) -> None:
        lines.setdefault(at, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[(*at, str(k.value))] = k.start_mark.line + 1
                walk(v, (*at, str(k.value)))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*at, str(i)))

    if isinstance(root, yaml.Node):
        walk(root, ())
    return lines


def test_libyaml_reads_every_yaml_file_of_the_repository_as_pyyaml_does() -> None:
    """safe_yaml parses with libyaml and constructs with PyYAML's safe constructor: the values must be PyYAML's
    own, for every manifest, card, policy and plugin file here (and the packaged policy, whose digest is what
    approvals are bound to)."""
    import yaml

    from harness.yamlio import _LOADERS, line_index

    assert [loader.__name__ for loader in _LOADERS] == ["CSafeLoader", "SafeLoader"]  # a PyYAML built with libyaml
    root = Path(__file__).resolve().parents[1]
    files = [p for top in ("harness", "test_suites", "tests", "examples", "datasets", "deploy", "benchmarks")
             for p in sorted((root / top).rglob("*.y*ml")) if p.suffix in (".yaml", ".yml")]
    assert len(files) >= 15
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert safe_yaml(text) == yaml.load(text, Loader=yaml.SafeLoader), path
        assert line_index(text) == pyyaml_lines(yaml.compose(text, Loader=yaml.SafeLoader)), path
    assert load_policy().digest == load_policy(root / "harness" / "policies" / "default.yaml").digest


@pytest.mark.parametrize(("text", "message"), [
    ("a: b: c\n", 'mapping values are not allowed here\n  in "<unicode string>", line 1, column 5:\n    a: b: c\n'
                  "        ^"),
    ("a: \x01\n", 'unacceptable character #x0001: special characters are not allowed\n  in "<unicode string>", '
                  "position 3"),
])
def test_a_document_that_is_not_yaml_gets_pyyamls_message_quoting_the_line(text: str, message: str) -> None:
    """libyaml names only the line and column ("mapping values are not allowed in this context"); the user gets
    PyYAML's message, which shows the line with a caret under the fault, as before libyaml was used."""
    import yaml

    with pytest.raises(yaml.YAMLError) as e:
        safe_yaml(text)
    assert str(e.value) == message


def test_an_alias_after_a_fault_libyaml_refuses_is_still_refused(tmp_path: Path) -> None:
    """The second reading (PyYAML's, after libyaml refused the document) checks for aliases too."""
    with pytest.raises(UnsafeYAML, match=r"^line 1 uses the YAML alias \*x;"):
        safe_yaml("a: *x\nb: c: d\n")
