"""The manifest's `records:` block (policy 1.2, 2.4, 3.2) and `x-` extension fields (issue 16, section 3): typed
records, extensions kept apart from the real fields and written back where they stood, and every other unknown
key still refused with its line. No store: these are the file format's rules."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.manifest import load_manifest, load_records
from tests.conftest import MANIFEST

ADAPTER = "adapter:\n  kind: predictions\n  path: predictions.csv\n  id_column: id\n  label_column: prediction\n"
RECORDS = """records:
  data_collected: [household income, rent, arrears]
  purpose: Ranks applications so caseworkers see likely-eligible ones first.
  retention: 7 years after the case closes (City schedule HS-12)
  privacy_impact_assessment: PIA-2026-014
  contact:
    role: Housing AI program lead
    email: housing-ai@cabq.gov
  public_facing: true
  public_disclosure: https://www.cabq.gov/housing/ai-notice
  x-records-system: Laserfiche folder 12
"""


def manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tool.yaml"
    path.write_text(MANIFEST.format(id="rec-tool") + ADAPTER + text)
    return path


def line_of(path: Path, start: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(start))


def test_the_records_block_is_typed(tmp_path: Path) -> None:
    m = load_manifest(manifest(tmp_path, RECORDS))
    r = m.records
    assert r is not None
    assert r.data_collected == ["household income", "rent", "arrears"]
    assert (r.retention, r.privacy_impact_assessment, r.public_facing) == (
        "7 years after the case closes (City schedule HS-12)", "PIA-2026-014", True)
    assert (r.contact.role, r.contact.email) == ("Housing AI program lead", "housing-ai@cabq.gov")
    assert r.public_disclosure == "https://www.cabq.gov/housing/ai-notice"
    assert r.extensions == {"x-records-system": "Laserfiche folder 12"}
    # one kind of data may be written as a single string
    one = load_manifest(manifest(tmp_path, RECORDS.replace("[household income, rent, arrears]", "rent")))
    assert one.records is not None and one.records.data_collected == ["rent"]


def test_a_manifest_without_records_dumps_as_before(tmp_path: Path) -> None:
    """assessment.json carries `manifest.model_dump`: an old manifest's record must not change (no `records: null`,
    no extension key), so its identity and every old assessment stay the same."""
    m = load_manifest(manifest(tmp_path, ""))
    assert m.records is None and m.extensions == {}
    assert list(m.model_dump(mode="json")) == [
        "id", "name", "version", "vendor", "department", "category", "status", "risk_tier", "intended_use",
        "automation_level", "human_oversight", "disclosure", "adapter", "claims"]


def test_extension_fields_are_kept_and_written_back_where_they_stood(tmp_path: Path) -> None:
    path = manifest(tmp_path, RECORDS + "x-procurement: {contract: C-2026-77, renewed: 2026-01-05}\nx-notes: [a, b]\n")
    m = load_manifest(path)
    assert m.extensions == {"x-procurement": {"contract": "C-2026-77", "renewed": date(2026, 1, 5)},
                            "x-notes": ["a", "b"]}
    dumped = m.model_dump(mode="json")
    assert dumped["x-procurement"] == {"contract": "C-2026-77", "renewed": "2026-01-05"}
    assert dumped["x-notes"] == ["a", "b"]
    assert dumped["records"]["x-records-system"] == "Laserfiche folder 12"
    assert "extensions" not in dumped and "x-" not in dumped
    # extension fields are part of what was declared: another value is another manifest
    other = load_manifest(manifest(tmp_path, RECORDS + "x-notes: [a, c]\n"))
    assert other.identity()["manifest_sha256"] != m.identity()["manifest_sha256"]


@pytest.mark.parametrize("field", ["risk_tier", "status", "category", "id"])
def test_an_extension_field_cannot_override_a_real_field(tmp_path: Path, field: str) -> None:
    """A vendor who writes `x-risk_tier: low` beside `risk_tier: high` gets the high tier, whatever reads the dump."""
    fake = {"risk_tier": "low", "status": "in-use", "category": "generative", "id": "someone-else"}[field]
    m = load_manifest(manifest(tmp_path, f"x-{field}: {fake}\n"))
    real = {"risk_tier": "high", "status": "proposed", "category": "decision-support", "id": "rec-tool"}[field]
    assert getattr(m, field) == real
    dumped = m.model_dump(mode="json")
    assert (dumped[field], dumped[f"x-{field}"]) == (real, fake)


def test_the_extensions_holder_cannot_be_written_directly(tmp_path: Path) -> None:
    """The holder's own names are no way in: `extensions` is an unknown field, and a bare `x-` key is one more
    extension (gathered with the others), never the holder itself."""
    path = manifest(tmp_path, "extensions: {risk_tier: low}\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    assert str(e.value) == (f"tool manifest {path} has 1 problem(s):\n"
                            f"  - extensions (line {line_of(path, 'extensions')}): unknown field (check the spelling)")
    m = load_manifest(manifest(tmp_path, "x-: {x-risk_tier: low}\nx-a: 1\n"))
    assert m.extensions == {"x-": {"x-risk_tier": "low"}, "x-a": 1} and m.risk_tier == "high"


def test_unknown_keys_without_the_prefix_are_still_refused_with_their_line(tmp_path: Path) -> None:
    path = manifest(tmp_path, RECORDS.replace("  retention:", "  retention_period:") + "data_owner: Housing\n")
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    assert str(e.value) == (
        f"tool manifest {path} has 3 problem(s):\n"
        "  - records.retention: required field is missing\n"
        f"  - records.retention_period (line {line_of(path, '  retention_period')}): unknown field (check the "
        "spelling)\n"
        f"  - data_owner (line {line_of(path, 'data_owner')}): unknown field (check the spelling)")


def test_a_public_facing_tool_must_say_where_its_use_is_disclosed(tmp_path: Path) -> None:
    """Policy 2.4: AI in a public-facing service is disclosed; the records say where."""
    path = manifest(tmp_path, RECORDS.replace("  public_disclosure: https://www.cabq.gov/housing/ai-notice\n", ""))
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    assert str(e.value) == (
        f"tool manifest {path} has 1 problem(s):\n  - records (line {line_of(path, 'records:')}): Value error, a "
        "public-facing tool must say where its AI use is disclosed to the public (public_disclosure: a page or "
        "notice; policy 2.4)")
    internal = load_manifest(manifest(tmp_path, RECORDS.replace("public_facing: true", "public_facing: false")
                                      .replace("  public_disclosure: https://www.cabq.gov/housing/ai-notice\n", "")))
    assert internal.records is not None and internal.records.public_disclosure is None


def test_the_contact_is_a_role_with_a_mailbox(tmp_path: Path) -> None:
    path = manifest(tmp_path, RECORDS.replace("email: housing-ai@cabq.gov", "email: call 505-555-0142"))
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    assert f"  - records.contact.email (line {line_of(path, '    email')}): String should match pattern" in str(e.value)


def test_a_records_file_on_its_own_is_validated_with_lines(tmp_path: Path) -> None:
    """`harness inventory add --records FILE`: the block without its `records:` key, the same rules."""
    good = tmp_path / "records.yaml"
    good.write_text("\n".join(line[2:] for line in RECORDS.splitlines()[1:]) + "\n")
    r = load_records(good)
    assert r.purpose.startswith("Ranks applications") and r.extensions == {"x-records-system": "Laserfiche folder 12"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("purpose:", "purpse:"))
    with pytest.raises(ConfigError) as e:
        load_records(bad)
    assert str(e.value) == (f"records file {bad} has 2 problem(s):\n"
                            "  - purpose: required field is missing\n"
                            "  - purpse (line 2): unknown field (check the spelling)")


def test_a_vendor_cannot_declare_its_tool_approved(tmp_path: Path) -> None:
    """Approval is a decision in the log, not a word in the manifest: `status: approved` is not a status."""
    path = tmp_path / "tool.yaml"
    path.write_text(MANIFEST.format(id="rec-tool").replace("status: proposed", "status: approved") + ADAPTER)
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    assert str(e.value) == (f"tool manifest {path} has 1 problem(s):\n  - status (line 7): Input should be "
                            "'proposed', 'pilot', 'in-use', 'development' or 'retired'")
