"""Attacks on the sandboxed worker (issue 12, section 1: "vendor code stays in its box").

A hostile vendor model tries, from inside the worker, to read the MLflow store, another vendor's model, the
reference data with its true labels, /etc/shadow and the parent's $HOME, to connect to a host Unix socket and to
read the parent's environment; to send what it found out through its error message, its stderr and its text
labels; to ask for more memory and time than the policy allows; and, without bubblewrap, to run at all or to
leave a process running after the harness is done. Everything is real: real pickles, a real bubblewrap sandbox,
a real Unix socket, real processes. The files the model hunts for live under /var/tmp, outside the sandbox's
private /tmp, where a view of the whole host would show them.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.assessment import assess
from harness.datasets import load_dataset
from harness.errors import ConfigError, ToolConfigError
from harness.findings import Status
from harness.manifest import load_manifest
from harness.policy import Policy, load_policy
from harness.sandbox import FALLBACK_NOTE, FORCED_NOTE, ISOLATION_ENV, ModelSpec, SandboxedModel
from harness.sandbox.scrub import scrub
from harness.tools import site_of
from harness.tools.sandboxed import SandboxedTool
from harness.verdict import Verdict
from tests.conftest import ROOT, write_card, write_case
from tests.test_sandbox import _dataset, _fitted, _manifest, code_pickle, fallback_policy

SECRET = "s3cr3t-" + uuid.uuid4().hex


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder on the host's real file system (not the sandbox's private /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="harness-attack-", dir="/var/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class UnixListener:
    """A host service on a Unix socket: records whatever a client sends."""

    def __init__(self, path: Path) -> None:
        self.path, self.received = path, []  # type: list[bytes]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    self.received.append(conn.recv(4096))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


PROBE = """
import json, os, socket
from pathlib import Path
seen = {}
for name, target in FILES.items():
    try:
        seen[name] = "read: " + Path(target).read_text(errors="replace")[:200]
    except OSError as e:
        seen[name] = type(e).__name__
try:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(SOCKET)
        s.sendall(b"hello from the box")
    seen["socket"] = "connected"
except OSError as e:
    seen["socket"] = type(e).__name__
seen["env"] = os.environ.get("HARNESS_TEST_SECRET")
seen["proc_environ"] = None
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            if b"HARNESS_TEST_SECRET=" in open(f"/proc/{pid}/environ", "rb").read():
                seen["proc_environ"] = pid
        except OSError:
            pass
seen["root"] = sorted(os.listdir("/"))
seen["repo"] = sorted(os.listdir(REPO)) if os.path.isdir(REPO) else None
seen["home_visible"] = os.path.isdir(HOME)
seen["outside"] = sorted(os.listdir(OUTSIDE))
seen["vendor"] = sorted(os.listdir(os.path.join(OUTSIDE, "vendor")))
import numpy as np
class M:
    def predict(self, X):
        return np.array([json.dumps(seen)] * len(X))
model = M()
"""


def _runtime_tops() -> set[str]:
    """The top-level folders the Python runtime and the harness package live in (bound read-only)."""
    paths = [sys.prefix, sys.base_prefix, os.path.realpath(sys.executable), Path(harness.__file__).parent]
    return {Path(p).resolve().parts[1] for p in paths}


def test_a_hostile_model_sees_nothing_of_the_host_under_bwrap(
        outside: Path, bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """(a) the MLflow store, (b) another vendor's model, (c) the reference data with its true labels,
    (d) /etc/shadow, (e) the parent's $HOME, (f) a host Unix socket, (g) the parent's environment."""
    store = outside / "store" / "mlflow.db"
    other = outside / "other-vendor" / "model.pkl"
    home = outside / "home"
    for path, text in ((store, f"SQLite format 3 store-{SECRET}"), (other, f"other-vendor-{SECRET}"),
                       (home / ".netrc", f"machine example.org password home-{SECRET}")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    _, card = write_case(outside / "data", n=40, seed=3)  # the reference data, target column included
    (outside / "sockets").mkdir()
    listener = UnixListener(outside / "sockets" / "host.sock")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HARNESS_TEST_SECRET", SECRET)
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    files = {"store": str(store), "other_vendor": str(other), "reference_data": str(card.parent / "data.csv"),
             "shadow": "/etc/shadow", "home": str(home / ".netrc")}
    statements = (f"FILES = {files!r}\nSOCKET = {str(listener.path)!r}\nREPO = {str(ROOT)!r}\n"
                  f"HOME = {str(home)!r}\nOUTSIDE = {str(outside)!r}\n" + PROBE)
    vendor = outside / "vendor"  # next to the other vendor's folder, as in a shared intake folder
    vendor.mkdir()
    (vendor / "model.pkl").write_bytes(code_pickle(statements))
    m = load_manifest(_manifest(vendor, "adapter:\n  kind: pickle\n  path: model.pkl\n"))
    tool = SandboxedTool.from_config(m.adapter, site_of(m))  # type: ignore[arg-type]
    try:
        labels = tool.predict_frame(pd.DataFrame({"x": [1, 2]})).labels
    finally:
        tool.close()
        time.sleep(0.2)
        listener.close()
    seen = json.loads(str(labels[0]))
    assert {k: seen[k] for k in (*files, "socket", "env", "proc_environ", "home_visible")} == {
        "store": "FileNotFoundError", "other_vendor": "FileNotFoundError", "reference_data": "FileNotFoundError",
        "shadow": "FileNotFoundError", "home": "FileNotFoundError", "socket": "FileNotFoundError",
        "env": None, "proc_environ": None, "home_visible": False}
    assert listener.received == []
    # what it could see at all: the runtime, its own model file (and the folders leading to it), its scratch
    # under a private /tmp, a minimal /dev and /proc
    tops = _runtime_tops() | {"var"}  # the model lives under /var/tmp here
    assert set(seen["root"]) <= {"dev", "proc", "tmp", "usr", "lib", "lib64", "lib32", "libx32", *tops}
    assert not {"etc", "run", "srv", "mnt", "opt", "home"} & (set(seen["root"]) - _runtime_tops())
    assert (seen["outside"], seen["vendor"]) == (["vendor"], ["model.pkl"])  # not its tool.yaml, nor its neighbours
    venv_in_repo = {Path(p).resolve().relative_to(ROOT).parts[0] for p in (sys.prefix,)
                    if Path(p).resolve().is_relative_to(ROOT)}
    assert seen["repo"] is None or set(seen["repo"]) <= {"harness", *venv_in_repo}  # never tests/, the data, ...
    assert SECRET not in json.dumps(seen)


LOOT = ("root:x:0:0:root:/root:/bin/bash\n"
        "daemon:*:19000:0:99999:7:::\n"
        "api_key sk-live-" + "Ab3" * 12 + " and AKIAIOSFODNN7EXAMPLE and " + "9f" * 32 + "\n"
        "caf\u00e9 \x1b[31m " + "A" * 5000)


def test_what_a_model_sends_back_in_its_error_and_stderr_is_truncated_and_scrubbed(tmp_path: Path,
                                                                                   bwrap: None) -> None:
    """The model's exception text and stderr go into the ToolError, the `harness.error` tag and the reports."""
    statements = f"import sys\nloot = {LOOT!r}\nprint(loot, file=sys.stderr)\nraise ValueError(loot)\n"
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "model.pkl").write_bytes(code_pickle(statements))
    m = load_manifest(_manifest(tmp_path / "vendor", "adapter:\n  kind: pickle\n  path: model.pkl\n"))
    tool = SandboxedTool.from_config(m.adapter, site_of(m))  # type: ignore[arg-type]
    ds = _dataset(tmp_path / "data", n=20)
    try:
        result = assess(m, tool, [ds], [], load_policy())
    finally:
        tool.close()
    assert result.verdict is Verdict.ERROR
    msg = result.error["message"]  # type: ignore[index]
    head = "tool 't': the model could not be loaded in the sandboxed worker: ValueError: "
    assert msg.startswith(head + "[redacted: account-file line]\n[redacted: account-file line]\napi_key "
                                 "[redacted: key] and [redacted: key] and [redacted: key]\ncaf? ?[31m AAA")
    message, _, tail = msg[len(head):].partition("; the worker's stderr ends with:\n")
    assert len(message) == 500 and message.endswith("A...")  # truncated to 500 characters
    assert tail == "..." + "A" * 1997  # the last 2000 characters of its stderr
    stored = json.dumps(result.to_dict())
    for secret in ("root:x:0:0", "daemon:*:19000", "sk-live-Ab3", "AKIAIOSFODNN7EXAMPLE", "9f" * 16):
        assert secret not in msg and secret not in stored
    assert all(32 <= ord(c) < 127 or c == "\n" for c in msg)


def test_scrub_exactly() -> None:
    assert scrub("plain text: [Errno 2] No such file or directory: '/tmp/x/model.pkl'", 500) == (
        "plain text: [Errno 2] No such file or directory: '/tmp/x/model.pkl'")
    assert scrub("line one\nroot:x:0:0:root:/root:/bin/bash\nafter", 500) == (
        "line one\n[redacted: account-file line]\nafter")
    assert scrub("seen nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin here", 500) == (
        "seen [redacted: account-file line]")
    assert scrub("root:$6$salt$hash:19000:0:99999:7:::", 500) == "[redacted: account-file line]"
    assert scrub("key=sk-proj-abcdefghijklmnop1234 id AKIAABCDEFGHIJKLMNOP.", 500) == (
        "key=[redacted: key] id [redacted: key].")
    assert scrub("token " + "ab12" * 8 + " hex " + "0123456789abcdef" * 2, 500) == (
        "token [redacted: key] hex [redacted: key]")
    assert scrub("b64 " + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo/+abc0123==", 500) == "b64 [redacted: key]"
    assert scrub("password: hunter2 and Secret=opensesame", 500) == (
        "password: [redacted] and Secret=[redacted]")
    assert scrub("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nafter", 500) == (
        "[redacted: private key]\nafter")
    # identifiers, tracebacks and paths without digits-and-letters tokens are left alone
    text = ('File "/work/site-packages/sklearn/utils/validation.py", line 2961, in _check_feature_names\n'
            "ValueError: test_hostile_pickle_cannot_write_read_secrets_or_connect_under_bwrap")
    assert scrub(text, 500) == text
    # printable ASCII only (newlines kept, tabs as a space), then truncated with a marker
    assert scrub("caf\u00e9\tzero\u200bwidth\x00\x1b[0m\r\n", 500) == "caf? zero?width??[0m?\n"
    assert scrub("x" * 600, 500) == "x" * 497 + "..."
    assert len(scrub("y" * 10, 5)) == 5 and scrub("y" * 10, 5) == "yy..."
    assert scrub("", 500) == "" and scrub(None, 500) == ""  # type: ignore[arg-type]


def test_text_labels_carrying_loot_are_bad_output_and_not_stored_verbatim(tmp_path: Path, bwrap: None) -> None:
    """A model that answers with text instead of the target's values: all rows (the tool's labels match none of
    the target's values: refused as bad input) or some rows (the data-quality suite's labels_in_set FAIL). Either
    way the text does not come back verbatim."""
    from test_suites.data_quality import DataQualitySuite

    # a text target ("yes"/"no"): with a numeric one the data-quality suite's label check cannot compute on text
    # labels (see the report), which would hide the finding this test is about
    _, card = write_case(tmp_path / "data", n=60, seed=61)
    frame = pd.read_csv(card.parent / "data.csv")
    frame["approved"] = np.where(frame["approved"] == 1, "yes", "no")
    frame.to_csv(card.parent / "data.csv", index=False)
    ds = load_dataset(str(write_card(card.parent, "case-61", target="{column: approved, positive: 'yes'}")))
    loot = "root:x:0:0:root:/root:/bin/bash sk-live-" + "Zq9" * 12
    for rows, name in (("len(X)", "all"), ("len(X) // 2", "half")):
        statements = f"""
import numpy as np
class M:
    def predict(self, X):
        out = np.array(["yes"] * len(X), dtype=object)
        out[:{rows}] = {loot!r}
        return out
model = M()
"""
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pkl").write_bytes(code_pickle(statements))
        m = load_manifest(_manifest(tmp_path / name, "adapter:\n  kind: pickle\n  path: model.pkl\n"))
        tool = SandboxedTool.from_config(m.adapter, site_of(m))  # type: ignore[arg-type]
        try:
            if name == "all":
                with pytest.raises(ToolConfigError) as e:
                    assess(m, tool, [ds], [], load_policy())
                assert str(e.value).startswith("tool 't' outputs labels ['[redacted: account-file line]'] but the "
                                               "target column 'approved' of dataset ")
                assert "root:x:0:0" not in str(e.value) and "Zq9Zq9" not in str(e.value)
            else:
                result = assess(m, tool, [ds], [DataQualitySuite()], load_policy())
                f = next(f for f in result.findings if f.key == "data_quality.outputs.labels_in_set")
                assert (f.status, f.details["count"]) == (Status.FAIL, 30)
                assert f.details["unknown"] == ["[redacted: account-file line]"]
                stored = json.dumps(result.to_dict())
                assert "root:x:0:0" not in stored and "Zq9Zq9" not in stored
        finally:
            tool.close()


def test_a_long_or_control_character_label_outside_the_label_space_is_scrubbed(tmp_path: Path, bwrap: None) -> None:
    ds = _dataset(tmp_path / "data", n=20)
    statements = ("import numpy as np\nclass M:\n    def predict(self, X):\n"
                  "        return np.array(['1\\x07', 'B' * 300] + ['0'] * (len(X) - 2))\nmodel = M()\n")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "model.pkl").write_bytes(code_pickle(statements))
    m = load_manifest(_manifest(tmp_path / "v", "adapter:\n  kind: pickle\n  path: model.pkl\n"))
    with SandboxedTool.from_config(m.adapter, site_of(m)) as tool:  # type: ignore[arg-type]
        labels = tool.predict(ds).labels
    # "1\x07" must not become the valid label "1"; a 300-character text keeps 64 characters
    assert labels[:2].tolist() == ["1?", "B" * 61 + "..."]
    assert labels[2:].tolist() == ["0"] * 18


# --- limits come from the policy ---------------------------------------------------------------------------


def _policy(**sandbox: object) -> Policy:
    p = load_policy()
    return p.model_copy(update={"settings": {**p.settings, "sandbox": {**p.settings.get("sandbox", {}), **sandbox}}})


def _tool(folder: Path, extra: str = "", **kw: object) -> SandboxedTool:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    m = load_manifest(_manifest(folder, f"adapter:\n  kind: pickle\n  path: model.pkl\n{extra}"))
    policy = kw.pop("policy", None)
    return SandboxedTool.from_config(m.adapter, site_of(m, policy=policy), **kw)  # type: ignore[arg-type]


def test_a_manifest_cannot_ask_for_more_memory_or_time_than_the_policy_allows(tmp_path: Path) -> None:
    with pytest.raises(ToolConfigError) as e:
        _tool(tmp_path / "a", "  memory_mb: 999999\n")
    assert str(e.value) == ("tool manifest 't' asks for adapter.memory_mb 999999; the policy allows at most 8192 "
                            "(settings.sandbox.max_memory_mb)")
    with pytest.raises(ToolConfigError) as e:
        _tool(tmp_path / "b", "  timeout_s: 601\n")
    assert str(e.value) == ("tool manifest 't' asks for adapter.timeout_s 601; the policy allows at most 600 "
                            "(settings.sandbox.max_timeout_s)")
    with pytest.raises(ToolConfigError) as e:
        _tool(tmp_path / "c", "  memory_mb: 2048\n", policy=_policy(max_memory_mb=1024))
    assert str(e.value) == ("tool manifest 't' asks for adapter.memory_mb 2048; the policy allows at most 1024 "
                            "(settings.sandbox.max_memory_mb)")
    assert (e.value.rule, e.value.section, e.value.detail) == (
        "sandbox-limits", "1.4", "settings.sandbox.max_memory_mb")


def test_limits_a_manifest_leaves_at_their_defaults_are_capped_by_the_policy(tmp_path: Path) -> None:
    tool = _tool(tmp_path / "d")  # the default policy: the manifest's defaults (8192 MB, 300 s) are within it
    assert (tool.model.limits.memory_bytes, tool.model.limits.call_timeout_s) == (8192 << 20, 300)
    tool = _tool(tmp_path / "a", policy=_policy(max_memory_mb=1024, max_timeout_s=30,
                                                allow_subprocess_fallback=True))
    assert (tool.model.limits.memory_bytes, tool.model.limits.load_timeout_s, tool.model.limits.call_timeout_s) == (
        1024 << 20, 30, 30)
    tool = _tool(tmp_path / "b", "  memory_mb: 512\n  timeout_s: 20\n", policy=_policy(max_memory_mb=1024))
    assert (tool.model.limits.memory_bytes, tool.model.limits.call_timeout_s) == (512 << 20, 20)


# --- fail closed without bubblewrap ---------------------------------------------------------------------


def test_without_bwrap_untrusted_formats_are_refused_unless_the_policy_allows_the_fallback(
        tmp_path: Path, no_bwrap: None) -> None:
    with pytest.raises(ConfigError) as e:
        _tool(tmp_path / "a")
    assert str(e.value) == (
        "tool 't' runs code when loaded and bubblewrap is not usable here (bwrap is not on PATH); the policy "
        "does not allow the subprocess fallback: install bubblewrap (apt-get install bubblewrap), or accept "
        "the risk with settings.sandbox.allow_subprocess_fallback: true in the analyst's policy")
    assert (e.value.rule, e.value.section, e.value.detail) == (
        "sandbox-consent", "1.4", "settings.sandbox.allow_subprocess_fallback")
    tool = _tool(tmp_path / "b", policy=fallback_policy())
    assert tool.notes == [FALLBACK_NOTE]


def test_harness_sandbox_subprocess_alone_does_not_open_the_fallback(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "subprocess")
    with pytest.raises(ConfigError) as e:
        _tool(tmp_path / "a")
    assert str(e.value) == (
        "tool 't': subprocess isolation was requested (HARNESS_SANDBOX=subprocess) but the policy does not allow "
        "running the model's code outside the sandbox; use bubblewrap, or accept the risk with "
        "settings.sandbox.allow_subprocess_fallback: true in the analyst's policy")
    with pytest.raises(ConfigError):
        SandboxedModel(ModelSpec("pickle", tmp_path / "m.pkl"), name="t", isolation="subprocess")
    assert _tool(tmp_path / "b", policy=fallback_policy()).notes == [FORCED_NOTE]


def test_the_fallback_kills_what_the_model_left_running(tmp_path: Path) -> None:
    """A model that starts a child and leaves it running: the fallback's worker has a process group of its
    own, killed whole when the tool is closed."""
    statements = """
import subprocess
import numpy as np
child = subprocess.Popen(["sleep", "1000"])
class M:
    def predict(self, X):
        return np.array([child.pid] * len(X))
model = M()
"""
    tool = _tool(tmp_path / "v", isolation="subprocess", policy=fallback_policy())
    (tmp_path / "v" / "model.pkl").write_bytes(code_pickle(statements))
    pid = int(tool.predict_frame(pd.DataFrame({"x": [1]})).labels[0])
    try:
        os.kill(pid, 0)  # running while the tool is open
        tool.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a killed orphan is reaped by init shortly after
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_the_model_runs_as_skops_in_the_sandbox_with_everything_trusted(tmp_path: Path, bwrap: None) -> None:
    """A skops file that needs types outside the City's allowlist is routed here (`model_format="skops"`):
    inside the box every type it names is loaded, because the box is the boundary."""
    import copy

    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    ds = _dataset(tmp_path / "data")
    wrapped = make_pipeline(FunctionTransformer(copy.copy), _fitted(ds))  # copy.copy: on no allowlist
    wrapped.fit(ds.frame[["sex", "race", "income"]], ds.frame["approved"])
    (tmp_path / "v").mkdir()
    sio.dump(wrapped, tmp_path / "v" / "model.skops")
    assert "copy.copy" in sio.get_untrusted_types(file=tmp_path / "v" / "model.skops")
    m = load_manifest(_manifest(tmp_path / "v", "adapter:\n  kind: sklearn\n  path: model.skops\n"))
    with SandboxedTool.from_config(m.adapter, site_of(m, policy=_policy(max_memory_mb=4096, max_timeout_s=120)),  # type: ignore[arg-type]
                                   model_format="skops") as tool:
        assert (tool.model.spec.format, tool.model.limits.memory_bytes, tool.model.limits.call_timeout_s) == (
            "skops", 4096 << 20, 120)
        preds = tool.predict(ds)
    X = ds.frame[["sex", "race", "income"]]
    assert preds.labels.tolist() == wrapped.predict(X).tolist()
    assert np.array_equal(preds.scores, wrapped.predict_proba(X)[:, 1])
