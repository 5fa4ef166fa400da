"""Vendor submission bundles: every problem listed at once with its path in the bundle, zip-slip refused,
the sha256 of every file recorded (issue 6, "Vendors submit")."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from harness.errors import ConfigError
from harness.workflows.bundle import validate_bundle

# line numbers matter: messages quote them
MANIFEST = """id: rental-screen
name: Rental Assistance Screening
version: "2.1.0"
vendor: Example Analytics
department: Housing
category: decision-support
status: proposed
risk_tier: high
intended_use: Ranks applications for caseworker review.
automation_level: Recommends only; a caseworker decides every case.
human_oversight: Caseworkers review every recommendation.
disclosure:
  model_type: gradient-boosted trees
  training_data_source: 2019-2023 applications, de-identified
  data_access_basis: data-sharing agreement 2024-17
  known_limitations: Not validated for applicants under 21.
  bias_mitigation: Reweighing during training; quarterly audit.
adapter:
"""
PREDICTIONS = "  kind: predictions\n  path: predictions.csv\n  id_column: id\n  label_column: prediction\n" \
              "  score_column: score\n"
CSV = "id,prediction,score\na1,1,0.9\na2,0,0.2\n"


def make(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return folder


def problems(e: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    head, *lines = str(e.value).split("\n")
    assert head.endswith(f"has {len(lines)} problem(s):")
    return [line.removeprefix("  - ") for line in lines]


def test_valid_bundle_yields_the_sha256_of_every_file(tmp_path: Path) -> None:
    pdf = b"%PDF-1.4 vendor bias audit"
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + PREDICTIONS, "predictions.csv": CSV,
                                 "evidence/bias-audit.pdf": pdf, "evidence/notes.md": "# notes\n"})
    with validate_bundle(root) as b:
        assert b.manifest.id == "rental-screen" and b.manifest.version == "2.1.0"
        assert b.manifest_path == root / "tool.yaml"
        assert b.files == {
            "evidence/bias-audit.pdf": hashlib.sha256(pdf).hexdigest(),
            "evidence/notes.md": hashlib.sha256(b"# notes\n").hexdigest(),
            "predictions.csv": hashlib.sha256(CSV.encode()).hexdigest(),
            "tool.yaml": hashlib.sha256((MANIFEST + PREDICTIONS).encode()).hexdigest(),
        }
        assert b.evidence == ["evidence/bias-audit.pdf", "evidence/notes.md"]
        assert b.archive_sha256 is None
    assert root.is_dir()  # a folder bundle is the vendor's: never removed


def test_every_manifest_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    text = (MANIFEST + PREDICTIONS).replace("vendor: Example Analytics\n", "") \
        .replace("category: decision-support", "category: chatbot") \
        .replace("  model_type: gradient-boosted trees\n", "")
    root = make(tmp_path / "b", {"tool.yaml": text, "predictions.csv": CSV, "evidence": "not a folder"})
    (root / "link.csv").symlink_to(root / "predictions.csv")
    with pytest.raises(ConfigError) as e:
        validate_bundle(root)
    assert str(e.value).startswith(f"bundle {root} has 5 problem(s):\n")
    assert problems(e) == [
        "link.csv: symbolic link; bundles hold regular files only",
        "tool.yaml: vendor: required field is missing",
        "tool.yaml, line 5: category: Input should be 'predictive', 'generative' or 'decision-support'",
        "tool.yaml, line 11: disclosure.model_type: required field is missing",
        "evidence: must be a folder (the vendor's own evidence)",
    ]


def test_missing_manifest_and_unreadable_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        validate_bundle(make(tmp_path / "a", {"predictions.csv": CSV}))
    assert problems(e) == ["tool.yaml: missing; a bundle has its tool.yaml at the top level"]
    with pytest.raises(ConfigError) as e:
        validate_bundle(make(tmp_path / "b", {"tool.yaml": "- just\n- a list\n"}))
    assert problems(e) == ["tool.yaml: must be a YAML mapping of fields, got list"]


def test_adapter_files_are_checked_in_the_shape_the_adapter_reads(tmp_path: Path) -> None:
    csv = "row,prediction,score\n1,1,0.9\n2,0,high\n"
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + PREDICTIONS, "predictions.csv": csv})
    with pytest.raises(ConfigError) as e:
        validate_bundle(root)
    assert problems(e) == [
        "predictions.csv: no column 'id' (adapter.id_column); it has ['row', 'prediction', 'score']",
        "predictions.csv: column 'score' has 1 missing or non-numeric score(s)",
    ]
    dup = make(tmp_path / "c", {"tool.yaml": MANIFEST + PREDICTIONS,
                                "predictions.csv": "id,prediction,score\na1,1,0.9\na1,0,0.2\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(dup)
    assert problems(e) == ["predictions.csv: 1 duplicate id(s) in column 'id', e.g. ['a1']"]
    # the adapter joins ids with their spaces stripped, so the bundle check counts " a1" as "a1" too
    spaced = make(tmp_path / "d", {"tool.yaml": MANIFEST + PREDICTIONS,
                                   "predictions.csv": "id,prediction,score\na1,1,0.9\n a1 ,0,0.2\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(spaced)
    assert problems(e) == ["predictions.csv: 1 duplicate id(s) in column 'id', e.g. ['a1']"]


def test_model_named_but_missing_or_outside(tmp_path: Path) -> None:
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + "  kind: pickle\n  path: model.pkl\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(root)
    assert problems(e) == ["model.pkl: named by adapter.path but missing"]
    (tmp_path / "model.pkl").write_bytes(b"x")
    out = make(tmp_path / "c", {"tool.yaml": MANIFEST + "  kind: pickle\n  path: ../model.pkl\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(out)
    assert problems(e) == ["tool.yaml, line 20: adapter.path: '../model.pkl' points outside the bundle; give a "
                           "path inside it"]


def test_a_pickle_is_accepted_for_the_sandbox_but_never_opened(tmp_path: Path) -> None:
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + "  kind: pickle\n  path: model.pkl\n  format: joblib\n",
                                 "model.pkl": b"\x80\x04 not even a real pickle: validation never loads it"})
    with validate_bundle(root) as b:
        assert b.manifest.adapter.kind == "pickle"
        assert sorted(b.files) == ["model.pkl", "tool.yaml"]


def test_sklearn_kind_checks_the_skops_file(tmp_path: Path) -> None:
    pkl = make(tmp_path / "a", {"tool.yaml": MANIFEST + "  kind: sklearn\n  path: model.pkl\n", "model.pkl": b"x"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(pkl)
    assert problems(e) == ["model.pkl: a pickle cannot use adapter kind 'sklearn'; use kind 'pickle' (run in the "
                           "sandbox) or save the model with skops"]
    good = make(tmp_path / "b", {"tool.yaml": MANIFEST + "  kind: sklearn\n  path: model.skops\n"})
    sio.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), good / "model.skops")
    with validate_bundle(good) as b:
        assert b.files["model.skops"] == hashlib.sha256((good / "model.skops").read_bytes()).hexdigest()
    bad = make(tmp_path / "c", {"tool.yaml": MANIFEST + "  kind: sklearn\n  path: model.skops\n",
                                "model.skops": b"not a zip"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(bad)
    assert problems(e)[0].startswith("model.skops: not a readable skops file (")


def test_responses_lines_are_checked_and_counted(tmp_path: Path) -> None:
    lines = ['{"id": "q1", "answer": "Paris"}', "not json", '{"id": "q2"}', '{"id": "q1", "answer": ""}',
             '["a list"]', '{"id": "q3", "answer": 4}']
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + "  kind: responses\n  path: answers.jsonl\n",
                                 "answers.jsonl": "\n".join(lines) + "\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(root)
    assert problems(e) == [
        "answers.jsonl, line 2: not valid JSON",
        "answers.jsonl, line 3: no field 'answer'",
        "answers.jsonl, line 4: duplicate id 'q1'",
        "answers.jsonl, line 5: not a JSON object",
        "answers.jsonl, line 6: field 'answer' is not text",
    ]
    many = make(tmp_path / "c", {"tool.yaml": MANIFEST + "  kind: responses\n  path: answers.jsonl\n",
                                 "answers.jsonl": "oops\n" * 25})
    with pytest.raises(ConfigError) as e:
        validate_bundle(many)
    listed = problems(e)
    assert len(listed) == 11 and listed[-1] == "answers.jsonl: 15 more problem line(s) not listed"


def test_python_kind_cannot_be_submitted(tmp_path: Path) -> None:
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + "  kind: python\n  callable: vendor:predict\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(root)
    assert problems(e) == ["tool.yaml, line 19: adapter.kind: 'python' runs code inside the harness process; a "
                           "vendor bundle must use sklearn (skops), pickle, mlflow, predictions, responses, http "
                           "or openai"]


def test_mlflow_model_folder_needs_a_pyfunc_flavour(tmp_path: Path) -> None:
    adapter = "  kind: mlflow\n  path: model\n"
    none = make(tmp_path / "a", {"tool.yaml": MANIFEST + adapter, "model/model.pkl": b"x"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(none)
    assert problems(e) == ["model/MLmodel: missing; an MLflow model folder has an MLmodel file"]
    other = make(tmp_path / "b", {"tool.yaml": MANIFEST + adapter, "model/MLmodel": "flavors:\n  sklearn: {}\n"})
    with pytest.raises(ConfigError) as e:
        validate_bundle(other)
    assert problems(e) == ["model/MLmodel: no python_function flavour; the harness loads MLflow models with "
                           "mlflow.pyfunc"]
    ok = make(tmp_path / "c", {"tool.yaml": MANIFEST + adapter,
                               "model/MLmodel": "flavors:\n  python_function: {loader_module: mlflow.sklearn}\n"})
    with validate_bundle(ok) as b:
        assert sorted(b.files) == ["model/MLmodel", "tool.yaml"]


def test_endpoint_bundle_has_no_model_file(tmp_path: Path) -> None:
    adapter = "  kind: openai\n  base_url: https://api.example.com/v1\n  model: vendor-7b\n  api_key_env: VENDOR_KEY\n"
    with validate_bundle(make(tmp_path / "b", {"tool.yaml": MANIFEST + adapter})) as b:
        assert b.manifest.adapter.kind == "openai" and list(b.files) == ["tool.yaml"]


# --- zips -------------------------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, str | bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(prefix + name, content)
    return path


def test_zip_bundle_matches_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    members: dict[str, str | bytes] = {"tool.yaml": MANIFEST + PREDICTIONS, "predictions.csv": CSV,
                                       "evidence/audit.txt": "audited"}
    folder = validate_bundle(make(tmp_path / "folder", members)).files
    for prefix in ("", "rental-screen-2.1.0/"):  # flat, or a zip of the bundle folder itself
        archive = _zip(tmp_path / f"bundle{len(prefix)}.zip", members, prefix)
        with validate_bundle(archive) as b:
            assert b.files == folder
            assert b.archive_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
            assert b.source == archive and b.root.is_dir() and (b.root / "tool.yaml").is_file()
        assert list((tmp_path / "tmp").iterdir()) == []  # the extracted copy is removed


def test_zip_slip_and_oversize_members_are_refused_and_nothing_is_extracted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("tool.yaml", MANIFEST + PREDICTIONS)
        zf.writestr("predictions.csv", CSV)
        zf.writestr(zipfile.ZipInfo("../../escaped.txt"), "zip-slip")
        zf.writestr(zipfile.ZipInfo("/tmp/absolute.txt"), "absolute")
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("big.bin", b"x" * 1001)
    with pytest.raises(ConfigError) as e:
        validate_bundle(archive, max_member_bytes=1000)
    assert str(e.value).startswith(f"bundle {archive} has 4 problem(s):\n")
    assert problems(e) == [
        "../../escaped.txt: path with '..' would leave the bundle; refused (zip-slip)",
        "/tmp/absolute.txt: absolute path in the archive; refused (zip-slip)",
        "passwd: symbolic link in the archive; refused (bundles hold regular files only)",
        "big.bin: 1,001 bytes, over the limit of 1,000 bytes per file",
    ]
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing extracted, nothing left behind


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        validate_bundle(tmp_path / "nowhere")
    assert str(e.value) == f"bundle {tmp_path / 'nowhere'} does not exist"
    (tmp_path / "tool.yaml").write_text(MANIFEST)
    with pytest.raises(ConfigError) as e:
        validate_bundle(tmp_path / "tool.yaml")
    assert str(e.value) == f"bundle {tmp_path / 'tool.yaml'} is neither a folder nor a .zip file"
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(ConfigError) as e:
        validate_bundle(tmp_path / "broken.zip")
    assert problems(e) == ["broken.zip: not a readable zip archive (File is not a zip file)"]


def test_digests_are_json_ready(tmp_path: Path) -> None:
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + PREDICTIONS, "predictions.csv": CSV})
    with validate_bundle(root) as b:
        assert json.loads(json.dumps(b.files)) == b.files


# --- harness submit -----------------------------------------------------------------------------------------


def _harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`harness ARGS` run in `cwd` without $MLFLOW_TRACKING_URI, in-process through click's CliRunner (a fresh
    interpreter per call costs seconds of imports; issue 13), answered as the program's process would be. A bug
    that escapes the command's own error handling is raised, not counted as an exit code."""
    from click.testing import CliRunner

    from harness.cli import main

    here = Path.cwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(main, list(args), env={"MLFLOW_TRACKING_URI": None}, prog_name="harness",
                               catch_exceptions=False)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess([str(Path(sys.executable).with_name("harness")), *args], r.exit_code,
                                       r.stdout, r.stderr)


def test_submit_refuses_a_bad_bundle_before_touching_the_store(tmp_path: Path) -> None:
    root = make(tmp_path / "b", {"tool.yaml": MANIFEST + "  kind: pickle\n  path: model.pkl\n"})
    db = tmp_path / "store" / "mlflow.db"
    r = _harness("submit", str(root), "--tracking-uri", f"sqlite:///{db}", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"error: bundle {root} has 1 problem(s):\n  - model.pkl: named by adapter.path but missing\n"
    assert not db.exists()


def test_submit_tells_the_vendor_at_once_when_the_endpoint_breaks_a_rule(tmp_path: Path) -> None:
    """An endpoint off the allow-list of the policy in force (or in clear text) is refused by every assessment
    (policy 1.3, 1.4); the vendor hears it when submitting, not weeks later. Submitting sends nothing to the
    endpoint, so the version is still registered."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    adapter = "  kind: openai\n  base_url: http://api.example.com/v1\n  model: vendor-7b\n  api_key_env: VENDOR_KEY\n"
    r = _harness("submit", str(make(tmp_path / "b", {"tool.yaml": MANIFEST + adapter})), "--submitter",
                 "Jane Vendor", "--tracking-uri", uri, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: adapter.base_url: the endpoint host api.example.com is reached over http://, in clear text; City data "
        "leaves this machine only over TLS: use https:// (plain http:// is allowed for loopback only, whatever "
        "settings.endpoints.allowed_hosts says; policy 1.3, 1.4). The version is registered; every assessment refuses "
        "it until this is resolved",
        "note: adapter.base_url: the endpoint host api.example.com is not on the policy's allow-list "
        "(settings.endpoints.allowed_hosts is empty, so only loopback is allowed); sending City data to a host the "
        "City has not approved is a data egress (policy 1.3, 1.4): add the host to settings.endpoints.allowed_hosts "
        "in the policy, or correct the URL. The version is registered; every assessment refuses it until this is "
        "resolved"]
    assert "registered rental-screen 2.1.0 as submitted by Jane Vendor" in r.stdout
    loopback = _harness("submit", str(make(tmp_path / "c", {"tool.yaml": (MANIFEST + adapter).replace(
        "http://api.example.com", "http://127.0.0.1:8000").replace('version: "2.1.0"', 'version: "2.2.0"')})),
        "--submitter", "Jane Vendor", "--tracking-uri", uri, cwd=tmp_path)
    assert loopback.returncode == 0 and "note: " not in loopback.stderr, loopback.stderr


@pytest.mark.slow
def test_submit_logs_the_bundle_and_registers_the_version_as_submitted(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from harness.gate import status

    members: dict[str, str | bytes] = {"tool.yaml": MANIFEST + PREDICTIONS, "predictions.csv": CSV,
                                       "evidence/audit.txt": "audited by the vendor"}
    digests = validate_bundle(make(tmp_path / "folder", members)).files
    archive = _zip(tmp_path / "rental-screen.zip", members)
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    r = _harness("submit", str(archive), "--submitter", "Jane Vendor", "--tracking-uri", uri, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"bundle {archive}: valid; 3 file(s), 1 of them vendor evidence" in r.stdout
    assert "registered rental-screen 2.1.0 as submitted by Jane Vendor: model version 1" in r.stdout

    [v] = status(uri, "rental-screen")
    assert (v.state, v.version, v.submitter, v.model_version) == ("submitted", "2.1.0", "Jane Vendor", 1)
    c = MlflowClient(tracking_uri=uri)
    [run] = c.search_runs([c.get_experiment_by_name("harness/rental-screen/submissions").experiment_id],
                          filter_string="tags.`harness.kind` = 'submission'")
    assert run.data.tags["harness.submitter"] == "Jane Vendor"
    assert run.data.tags["harness.bundle.sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    logged = sorted(a.path for a in c.list_artifacts(run.info.run_id, "bundle"))
    assert logged == ["bundle/evidence", "bundle/predictions.csv", "bundle/tool.yaml"]
    files = json.loads(Path(c.download_artifacts(run.info.run_id, "registration/files.json",
                                                 str(tmp_path))).read_text())
    assert files == digests

    # the same bundle again: idempotent
    again = _harness("submit", str(archive), "--submitter", "Jane Vendor", "--tracking-uri", uri, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(already registered with this manifest; files logged again): model version 1" in again.stdout

    # another manifest under the same version string: the gate refuses, the attempt stays marked
    changed = _zip(tmp_path / "changed.zip", {**members, "tool.yaml": (MANIFEST + PREDICTIONS).replace(
        "quarterly audit", "monthly audit")})
    refused = _harness("submit", str(changed), "--submitter", "Jane Vendor", "--tracking-uri", uri, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error: ")
    runs = c.search_runs([run.info.experiment_id], filter_string="tags.`harness.kind` = 'submission'")
    marked = [x for x in runs if "harness.submission.refused" in x.data.tags]
    assert len(runs) == 3 and len(marked) == 1
    assert marked[0].data.tags["harness.submission.refused"] == refused.stderr.removeprefix("error: ").strip()


def test_an_archive_that_expands_a_hundredfold_past_64_mib_is_refused_as_a_bomb(tmp_path: Path) -> None:
    """A small archive within the total limit (8 GiB) can still be a bomb: 96 MiB of zeros deflate to ~100 kB."""
    from harness.workflows.bundle import extract_zip

    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tool.yaml", MANIFEST + PREDICTIONS)
        with zf.open("predictions.csv", "w") as out:
            for _ in range(96):
                out.write(b"\0" * (1 << 20))
    packed = archive.stat().st_size
    total = (96 << 20) + len(MANIFEST + PREDICTIONS)
    assert packed < 200_000
    dest = tmp_path / "out"
    dest.mkdir()
    assert extract_zip(archive, dest) == [
        f"bundle.zip: {packed:,} bytes that expand to {total:,} ({total // packed:,} times); over 67,108,864 bytes an "
        "archive may expand at most 100 times: refused (a zip bomb?)"]
    assert list(dest.iterdir()) == []  # nothing extracted
    # a model that compresses as models do (random bytes: about 1:1) passes the same size
    honest = tmp_path / "honest.zip"
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.bin", os.urandom(70 << 20))
    assert extract_zip(honest, tmp_path / "honest") == []
