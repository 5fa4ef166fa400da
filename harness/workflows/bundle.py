"""Vendor submission bundles (issue 6, "Vendors submit"): a folder or a .zip holding `tool.yaml`, the model or
its outputs as the adapter names them, and optionally `evidence/` (the vendor's own evidence, recorded only).

`validate_bundle` lists every problem at once, each with its path inside the bundle (and its line in
`tool.yaml`), so a vendor can fix a submission in one pass; a valid bundle comes back with the sha256 of
every file, which the registry keeps with the submitted version (policy 3.2). The disclosure fields
(model type, training data source, legal basis for the data, known limitations, bias mitigation) are
required by the manifest itself: the policy's transparency clause and 2.1.

Nothing in a bundle is executed here: pickles and MLflow models are only checked for presence (they run
code when loaded, so only the sandboxed worker loads them); skops files are only inspected for their types, and a
manifest asking skops to trust types beyond the harness allowlist is refused (the City decides, issue 12).
A zip is extracted into a temporary folder only when no member could escape it: absolute paths, `..`,
symbolic links and oversize members are refused (zip-slip, zip bombs), and sizes are enforced while
extracting, not taken from the archive's word.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from harness.digests import sha256_file
from harness.errors import ConfigError
from harness.manifest import UNION_TAGS, ToolManifest, load_manifest
from harness.yamlio import UnsafeYAML, line_index, problems_of, safe_yaml

MANIFEST = "tool.yaml"
EVIDENCE = "evidence"
MAX_MEMBER_BYTES = 2 << 30  # one file in a zip
MAX_TOTAL_BYTES = 8 << 30  # all files in a zip, extracted
MAX_MEMBERS = 20_000
# models and outputs compress a few times, not a thousand: past this much extracted, a ratio above MAX_RATIO
# is a zip bomb (a 1.6 MB archive that expands to 1.5 GiB is refused; issue 12)
RATIO_FLOOR_BYTES = 64 << 20
MAX_RATIO = 100
MAX_LINE_PROBLEMS = 10  # per file of outputs; the rest are counted
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


@dataclass
class Bundle:
    """A validated submission. `root` is the folder holding `tool.yaml` (a temporary folder for a zip,
    removed by `cleanup()` or at the end of a `with` block); `files` maps each file's path inside the
    bundle (POSIX form) to its sha256."""

    source: Path
    root: Path
    manifest: ToolManifest
    manifest_path: Path
    files: dict[str, str]
    evidence: list[str] = field(default_factory=list)
    archive_sha256: str | None = None
    _tmp: Path | None = field(default=None, repr=False)

    def cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()



# --- zips -------------------------------------------------------------------------------------------------


def _member_problem(info: zipfile.ZipInfo, max_member: int) -> str | None:
    name = info.filename
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return f"{name}: absolute path in the archive; refused (zip-slip)"
    if ".." in PurePosixPath(posix).parts:
        return f"{name}: path with '..' would leave the bundle; refused (zip-slip)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"{name}: symbolic link in the archive; refused (bundles hold regular files only)"
    if info.flag_bits & 0x1:
        return f"{name}: encrypted member; bundles must not be encrypted"
    if info.file_size > max_member:
        return f"{name}: {info.file_size:,} bytes, over the limit of {max_member:,} bytes per file"
    return None


def extract_zip(archive: Path, dest: Path, *, max_member: int = MAX_MEMBER_BYTES,
                max_total: int = MAX_TOTAL_BYTES) -> list[str]:
    """Extract `archive` into `dest` when every member is safe; else extract nothing and return every
    problem. Sizes are counted while extracting, so a member that lies about its size is caught too."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        return [f"{archive.name}: not a readable zip archive ({e})"]
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            return [f"{archive.name}: {len(infos):,} members, over the limit of {MAX_MEMBERS:,}"]
        problems = [p for info in infos if (p := _member_problem(info, max_member))]
        seen: set[str] = set()
        for info in infos:
            key = info.filename.replace("\\", "/").rstrip("/")
            if key in seen and not info.is_dir():
                problems.append(f"{info.filename}: appears twice in the archive")
            seen.add(key)
        total = sum(i.file_size for i in infos)
        if total > max_total:
            problems.append(f"{archive.name}: {total:,} bytes when extracted, over the limit of {max_total:,}")
        packed = max(archive.stat().st_size, 1)
        if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * packed:
            problems.append(f"{archive.name}: {packed:,} bytes that expand to {total:,} ({total // packed:,} times); "
                            f"over {RATIO_FLOOR_BYTES:,} bytes an archive may expand at most {MAX_RATIO} times: "
                            "refused (a zip bomb?)")
        if problems:
            return problems
        root = dest.resolve()
        written = 0
        for info in infos:
            target = (root / info.filename.replace("\\", "/")).resolve()
            if target != root and root not in target.parents:  # belt and braces after the checks above
                return [f"{info.filename}: would be written outside the bundle; refused (zip-slip)"]
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        size += len(chunk)
                        written += len(chunk)
                        if size > min(info.file_size, max_member) or written > max_total:
                            return [f"{info.filename}: larger when extracted than the archive declares; "
                                    f"refused (a zip bomb?)"]
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
                return [f"{info.filename}: cannot be extracted ({type(e).__name__}: {e})"]
    return []


# --- folder contents --------------------------------------------------------------------------------------


def _scan(root: Path) -> tuple[dict[str, str], list[str]]:
    """sha256 of every regular file under `root`; links and special files are problems."""
    files: dict[str, str] = {}
    problems: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            p = here / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                problems.append(f"{rel}: symbolic link; bundles hold regular files only")
            elif stat.S_ISREG(st.st_mode):
                files[rel] = sha256_file(p)
            elif not stat.S_ISDIR(st.st_mode):
                problems.append(f"{rel}: not a regular file")
        dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
    return dict(sorted(files.items())), problems


def _where(text: str, *path: str) -> str:
    """`tool.yaml, line N` for a key of the manifest (or plain `tool.yaml` when the line is unknown)."""
    index = line_index(text)
    for cut in range(len(path), 0, -1):
        if path[:cut] in index:
            return f"{MANIFEST}, line {index[path[:cut]]}"
    return MANIFEST


def _inside(root: Path, relative: str) -> Path | None:
    p = Path(relative)
    if p.is_absolute():
        return None
    target = (root / p).resolve()
    return target if target == root.resolve() or root.resolve() in target.parents else None


def _manifest_problems(root: Path) -> tuple[ToolManifest | None, str, list[str]]:
    path = root / MANIFEST
    if not path.is_file():
        return None, "", [f"{MANIFEST}: missing; a bundle has its tool.yaml at the top level"]
    try:
        text = path.read_text(encoding="utf-8")
        data = safe_yaml(text)
    except UnsafeYAML as e:
        return None, "", [f"{MANIFEST}: not accepted: {e}"]
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        return None, "", [f"{MANIFEST}: not valid YAML ({' '.join(str(e).split())})"]
    if not isinstance(data, dict):
        return None, "", [f"{MANIFEST}: must be a YAML mapping of fields, got {type(data).__name__}"]
    data = dict(data)
    data.pop("base_dir", None)
    try:
        ToolManifest.model_validate(data)
    except ValidationError as e:
        out = []
        for p in problems_of(e, text, UNION_TAGS):
            at = f"{MANIFEST}, line {p.line}" if p.line else MANIFEST
            out.append(f"{at}: {p.where}: {p.message}")
        return None, text, out
    return load_manifest(path), text, []


def _file_problems(root: Path, manifest: ToolManifest, text: str) -> list[str]:
    """The adapter's files: present, inside the bundle, and (for outputs) in the shape the adapter reads."""
    a = manifest.adapter
    kind = a.kind
    if kind == "python":
        return [f"{_where(text, 'adapter', 'kind')}: adapter.kind: 'python' runs code inside the harness process; "
                f"a vendor bundle must use sklearn (skops), pickle, mlflow, predictions, responses, http or openai"]
    rel = getattr(a, "path", None)
    if rel is None:
        return []  # an endpoint (http, openai) or an MLflow model URI: nothing in the bundle to check
    where = _where(text, "adapter", "path")
    target = _inside(root, rel)
    if target is None:
        return [f"{where}: adapter.path: {rel!r} points outside the bundle; give a path inside it"]
    shown = PurePosixPath(Path(rel).as_posix()).as_posix()
    if kind == "mlflow":
        if not target.is_dir():
            return [f"{shown}: named by adapter.path but missing (an MLflow model folder)"]
        return _mlflow_problems(target, shown)
    if not target.is_file():
        return [f"{shown}: named by adapter.path but missing"]
    if kind == "sklearn":
        return _trust_problems(manifest, text) + _skops_problems(target, shown)
    if kind == "pickle":
        return [f"{shown}: empty file"] if target.stat().st_size == 0 else []
    if kind == "predictions":
        return _predictions_problems(target, shown, a)
    if kind == "responses":
        return _responses_problems(target, shown, a)
    return []


def _trust_problems(manifest: ToolManifest, text: str) -> list[str]:
    """A vendor cannot widen what skops trusts: adapter.trusted may only repeat the harness allowlist (issue 12)."""
    from harness.tools.skops_trust import allowlist, trust_refusal

    extra = sorted(set(getattr(manifest.adapter, "trusted", None) or ()) - allowlist())
    return [f"{_where(text, 'adapter', 'trusted')}: {trust_refusal(manifest.id, extra)}"] if extra else []


def _skops_problems(path: Path, shown: str) -> list[str]:
    """A readable skops file; types the City does not trust are no problem here: such a model is run in the
    sandboxed worker, like a pickle."""
    if path.suffix in PICKLE_SUFFIXES:
        return [f"{shown}: a pickle cannot use adapter kind 'sklearn'; use kind 'pickle' (run in the sandbox) "
                f"or save the model with skops"]
    import skops.io as sio

    try:
        sio.get_untrusted_types(file=path)
    except Exception as e:
        return [f"{shown}: not a readable skops file ({type(e).__name__}: {e})"]
    return []


def _mlflow_problems(folder: Path, shown: str) -> list[str]:
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        return [f"{shown}/MLmodel: missing; an MLflow model folder has an MLmodel file"]
    try:
        meta = safe_yaml(mlmodel.read_text())
    except UnsafeYAML as e:
        return [f"{shown}/MLmodel: not accepted: {e}"]
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        return [f"{shown}/MLmodel: not valid YAML ({e})"]
    flavors = meta.get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavors, dict) or "python_function" not in flavors:
        return [f"{shown}/MLmodel: no python_function flavour; the harness loads MLflow models with "
                f"mlflow.pyfunc"]
    return []


def _predictions_problems(path: Path, shown: str, a: Any) -> list[str]:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype={a.id_column: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        return [f"{shown}: not a readable CSV ({type(e).__name__}: {e})"]
    problems = []
    for attr in ("id_column", "label_column", "score_column"):
        col = getattr(a, attr)
        if col is not None and col not in df.columns:
            problems.append(f"{shown}: no column {col!r} (adapter.{attr}); it has {list(df.columns)}")
    if len(df) == 0:
        problems.append(f"{shown}: no rows")
    if a.id_column in df.columns:
        ids = df[a.id_column].astype(str).str.strip()  # as the predictions adapter joins them: " a1" is "a1"
        dup = ids[ids.duplicated()]
        if len(dup):
            problems.append(f"{shown}: {len(dup)} duplicate id(s) in column {a.id_column!r}, e.g. "
                            f"{dup.head(5).tolist()}")
    if a.score_column is not None and a.score_column in df.columns:
        scores = pd.to_numeric(df[a.score_column], errors="coerce")
        bad = int(scores.isna().sum())
        if bad:
            problems.append(f"{shown}: column {a.score_column!r} has {bad} missing or non-numeric score(s)")
    return problems


def _responses_problems(path: Path, shown: str, a: Any) -> list[str]:
    """Every bad line of a responses file, read a line at a time: a line over 1 MiB, nested past 64 levels or
    using NaN is a problem like any other (`safe_json`, issue 12), never an internal error."""
    from harness.yamlio import MAX_JSONL_LINE_BYTES, jsonl_lines, safe_json

    problems: list[str] = []
    ids: set[str] = set()
    rows = 0
    with path.open("rb") as f:
        for i, raw in jsonl_lines(f, MAX_JSONL_LINE_BYTES):
            if raw is not None and not raw.strip():
                continue
            rows += 1
            where = f"{shown}, line {i}"
            try:
                if raw is None:
                    raise ConfigError(f"{where} is not accepted: it is larger than {MAX_JSONL_LINE_BYTES:,} bytes")
                obj = safe_json(raw, where, MAX_JSONL_LINE_BYTES)
            except ConfigError as e:
                problems.append(str(e))
                continue
            except UnicodeDecodeError:
                problems.append(f"{where}: not UTF-8 text")
                continue
            except ValueError:
                problems.append(f"{where}: not valid JSON")
                continue
            problems += _response_problems(obj, where, a, ids)
    if rows == 0:
        problems.append(f"{shown}: no answers")
    if len(problems) > MAX_LINE_PROBLEMS:
        extra = len(problems) - MAX_LINE_PROBLEMS
        problems = [*problems[:MAX_LINE_PROBLEMS], f"{shown}: {extra} more problem line(s) not listed"]
    return problems


def _response_problems(obj: Any, where: str, a: Any, ids: set[str]) -> list[str]:
    """The problems of one parsed line of a responses file; `ids` collects the ids seen so far."""
    if not isinstance(obj, dict):
        return [f"{where}: not a JSON object"]
    problems = [f"{where}: no field {key!r}" for key in (a.id_field, a.answer_field) if key not in obj]
    if a.answer_field in obj and not isinstance(obj[a.answer_field], str):
        problems.append(f"{where}: field {a.answer_field!r} is not text")
    if a.id_field in obj:
        key = str(obj[a.id_field])
        if key in ids:
            problems.append(f"{where}: duplicate id {key!r}")
        ids.add(key)
    return problems


# --- the entry point --------------------------------------------------------------------------------------


def validate_bundle(path: str | Path, *, max_member_bytes: int = MAX_MEMBER_BYTES,
                    max_total_bytes: int = MAX_TOTAL_BYTES) -> Bundle:
    """Validate a bundle folder or .zip. Raises one `ConfigError` (exit 2) listing every problem."""
    source = Path(path)
    tmp: Path | None = None
    archive_sha: str | None = None
    if source.is_dir():
        root = source
    elif source.is_file() and source.suffix.lower() == ".zip":
        archive_sha = sha256_file(source)
        tmp = Path(tempfile.mkdtemp(prefix="harness-bundle-"))
        problems = extract_zip(source, tmp, max_member=max_member_bytes, max_total=max_total_bytes)
        if problems:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _error(source, problems)
        root = tmp
        entries = list(tmp.iterdir())
        if not (tmp / MANIFEST).exists() and len(entries) == 1 and (entries[0] / MANIFEST).is_file():
            root = entries[0]  # a zip of the bundle folder itself
    elif source.exists():
        raise ConfigError(f"bundle {source} is neither a folder nor a .zip file")
    else:
        raise ConfigError(f"bundle {source} does not exist")
    try:
        files, problems = _scan(root)
        manifest, text, manifest_problems = _manifest_problems(root)
        problems += manifest_problems
        if manifest is not None:
            problems += _file_problems(root, manifest, text)
        evidence_dir = root / EVIDENCE
        if evidence_dir.exists() and not evidence_dir.is_dir():
            problems.append(f"{EVIDENCE}: must be a folder (the vendor's own evidence)")
        if problems:
            raise _error(source, problems)
        assert manifest is not None
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    evidence = [f for f in files if f.startswith(f"{EVIDENCE}/")]
    return Bundle(source=source, root=root, manifest=manifest, manifest_path=root / MANIFEST, files=files,
                  evidence=evidence, archive_sha256=archive_sha, _tmp=tmp)


def _error(source: Path, problems: list[str]) -> ConfigError:
    listed = "\n".join(f"  - {p}" for p in problems)
    return ConfigError(f"bundle {source} has {len(problems)} problem(s):\n{listed}")
