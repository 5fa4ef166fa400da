"""Shared fixtures. The public datasets come from the read-only mirror `../shared/datasets`; a test
that needs it is skipped with the reason when it is absent, except under CI, where that is a failure."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.services import SERVER_GROUP, City

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("HARNESS_MIRROR", ROOT.parent / "shared" / "datasets"))
GROUPS_ENV = "HARNESS_TEST_XDIST_GROUPS"  # where xdist workers write which tests share a worker


def pytest_configure(config: pytest.Config) -> None:
    """Every test process signs decision records with a key of its own (harness.gate.signing), in a folder
    removed at exit: never the user's key, never the user's anchors. Subprocesses inherit it."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="harness-test-keys-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["HARNESS_SIGNING_KEY"] = str(folder / "signing.key")
    os.environ.pop("HARNESS_TRUSTED_KEYS", None)
    # the two xdist workers already use both cores: assessments run their data-only checks in place, not in a
    # third process (harness.background); tests/test_background.py switches it on for its own tests
    os.environ.setdefault("HARNESS_BACKGROUND", "0")
    # new embedded stores are copies of one migrated template (harness.tracking.template), kept for this run
    # only, never in the user's cache; the workers and their subprocesses inherit the controller's folder
    os.environ.setdefault("HARNESS_CACHE_DIR", str(folder / "cache"))
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist); workers inherit it
        os.environ[GROUPS_ENV] = str(folder / "xdist-groups")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Which tests must share a worker under `pytest -n 2 --dist loadgroup` (the Makefile's `make test`): those that
    name an xdist_group (the MLflow server tests: tests.services.SERVER_GROUP, one deployment per run), and each
    module's tests that use a module-scoped fixture (five assessments in test_gate.py, two in test_gate_cli.py, ...),
    so that the fixture is built once per run rather than once per worker. pytest-xdist 3.8 passes the groups to its
    scheduler by renaming node ids, which pytest 9.2 no longer allows (pytest-dev/pytest-xdist#1386): a worker
    writes them to the file the controller named in GROUPS_ENV instead, and `pytest_xdist_make_scheduler` reads it."""
    groups: dict[str, str] = {}
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if not names and any(d and d[-1].scope in ("module", "class") for d in defs):
            names = [item.nodeid.split("::", 1)[0]]
            item.add_marker(pytest.mark.xdist_group(names[0]))
        if names:
            groups[item.nodeid] = "_".join(names)
    target, worker = os.environ.get(GROUPS_ENV), os.environ.get("PYTEST_XDIST_WORKER")
    if target and worker:
        part, tmp = Path(f"{target}.{worker}"), Path(f"{target}.{worker}.tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(part)  # whole or absent when the controller reads it


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # a hook of pytest-xdist (a dev dependency)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """--dist loadgroup with the groups the workers wrote (see pytest_collection_modifyitems), the MLflow server
    tests' group (minutes of work on one worker) handed out first so that it never starts last and leaves the other
    worker idle, then pytest-xdist's own order (larger groups first, then single tests in file order). None (xdist's
    own scheduler) for any other --dist."""
    if config.getoption("dist", None) != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    target = Path(os.environ[GROUPS_ENV])

    class Groups(LoadGroupScheduling):
        written: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.written is None:  # the workers have collected (and written) before the first call
                self.written = {}
                for part in sorted(target.parent.glob(f"{target.name}.gw*[0-9]")):
                    self.written.update(json.loads(part.read_text()))
            return self.written.get(nodeid) or super()._split_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if SERVER_GROUP in self.workqueue:
                self.workqueue.move_to_end(SERVER_GROUP, last=False)
            super()._assign_work_unit(node)

    return Groups(config, log)


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "adult.data.csv").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the dataset mirror {MIRROR} is missing under CI")
        pytest.skip(f"the dataset mirror {MIRROR} is absent (set HARNESS_MIRROR to its folder)")
    return MIRROR


@pytest.fixture(scope="session")
def adult(mirror: Path):
    from harness.datasets import load_dataset

    return load_dataset("adult", data_dir=mirror)


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """The shared deployment (PostgreSQL, MLflow with basic-auth, tests.services.CITY_PEOPLE), started once per test
    process and stopped at its end: about 25 s, paid once rather than by every test that needs a server. Tests that
    use it are marked xdist_group(SERVER_GROUP), so under `--dist loadgroup` one worker starts it."""
    from tests.services import city_deployment

    with city_deployment(tmp_path_factory.mktemp("city")) as running:
        yield running


def write_case(folder: Path, *, n: int = 3000, disparity: float = 0.0, seed: int = 0,
               kind: str = "predictions", extra_manifest: str = "") -> tuple[Path, Path]:
    """A generated dataset with its card, and a vendor predictions file with its manifest.

    `disparity` lowers group F's selection probability by that much (0.45 - disparity vs 0.45). The tool
    works (the performance suite asks that it beat chance): its selection probability is 0.3 higher for
    people with the favourable outcome than without, which leaves the expected selection rates as they are."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2])
    y = rng.binomial(1, 0.4, n)
    p = np.where(sex == "F", 0.45 - disparity, 0.45) + 0.3 * (y - 0.4)
    pred = rng.binomial(1, p)
    ids = [f"a{i:05d}" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "sex": sex, "race": race, "income": rng.normal(50, 10, n).round(2),
                  "approved": y}).to_csv(folder / "data.csv", index=False)
    pd.DataFrame({"id": ids, "prediction": pred, "score": p}).to_csv(folder / "predictions.csv", index=False)
    card = write_card(folder, f"case-{seed}")
    tool = folder / "tool.yaml"
    adapter = {
        "predictions": "adapter:\n  kind: predictions\n  path: predictions.csv\n  id_column: id\n"
                       "  label_column: prediction\n  score_column: score\n",
        "python": "adapter:\n  kind: python\n  callable: {callable}\n",
    }[kind]
    tool.write_text(MANIFEST.format(id=f"case-tool-{seed}") + adapter + extra_manifest)
    return tool, card


LOOKUP = """\"\"\"A callable stand-in for a vendor model: answers from predictions.csv beside it, row by row, read at
each call (so a test may change the file). Unlike a file of outputs it can be called on changed inputs, so the
counterfactual check runs: it reads no protected attribute, and its decisions never change with one.\"\"\"
from pathlib import Path

import numpy as np
import pandas as pd


def predict(frame):
    table = pd.read_csv(Path(__file__).with_name("predictions.csv"))
    rows = pd.to_numeric(pd.Series(frame.index), errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(rows) & (rows >= 0) & (rows < len(table))
    at = np.where(known, rows, 0).astype(int)  # rows it has not seen (a large batch) get the unfavourable answer
    return (np.where(known, table["prediction"].to_numpy()[at], 0),
            np.where(known, table["score"].to_numpy()[at], 0.1))
"""


def perfect_case(folder: Path, seed: int = 6, n: int = 10000) -> tuple[Path, Path]:
    """A generated case whose predictions are the truth (every group's error rates are 0), answered by a callable
    that can be asked about changed inputs, so nothing the policy requires is left untested: the verdict is PASS.
    The outputs live in predictions.csv beside the manifest, as for a file of outputs."""
    tool, card = write_case(folder, n=n, seed=seed, kind="python")
    tool.write_text(tool.read_text().replace("{callable}", "lookup:predict"))
    (folder / "lookup.py").write_text(LOOKUP)
    data = pd.read_csv(card.parent / "data.csv")
    pd.DataFrame({"id": data["id"], "prediction": data["approved"], "score": data["approved"] * 0.8 + 0.1}
                 ).to_csv(folder / "predictions.csv", index=False)
    return tool, card


MANIFEST = """id: {id}
name: Generated case tool
version: "1.0"
vendor: Test Vendor
department: Housing
category: decision-support
status: proposed
risk_tier: high
intended_use: Tests the harness.
automation_level: Recommends only; a person decides.
human_oversight: Every recommendation is reviewed.
disclosure:
  model_type: generated predictions
  training_data_source: none
  data_access_basis: generated data
  known_limitations: none
  bias_mitigation: none
"""


@pytest.fixture
def case(tmp_path: Path):
    return lambda **kw: write_case(tmp_path / f"case{kw.get('seed', 0)}", **kw)


def write_card(folder: Path, name: str, *, target: str = "{column: approved, positive: 1}",
               features: str = "[sex, race, income]", extra: str = "") -> Path:
    """The card of a generated case: `data.csv` in `folder` (by default id, sex, race, income, approved), with
    its sha256; `target`, `features` and `extra` (more YAML lines) describe other generated data."""
    digest = hashlib.sha256((folder / "data.csv").read_bytes()).hexdigest()
    card = folder / "card.yaml"
    card.write_text(f"""name: {name}
version: "1"
task: binary-classification
file: data.csv
sha256: {digest}
source: https://example.org/generated
license: CC0-1.0
target: {target}
id_column: id
features: {features}
protected_attributes:
  sex: {{reference: M}}
  race: {{reference: A}}
pii_columns: []
""" + extra)
    return card


def single_user(uri: str, folder: Path, by: str = "Pat Admin") -> None:
    """Put the single-user policy in force in the store at `uri` (`harness.policy.single_user_policy_text`):
    the packaged policy asks for a server-confirmed identity and two signatures before a high-risk tool is
    approved, which an embedded SQLite store can never give. Tests of the gate's other rules on such a store
    adopt it first, as a City installation without a server would, as a recorded weakening."""
    from harness.gate import adopt
    from harness.policy import SINGLE_USER_WEAKENING, single_user_policy_text

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "single-user-policy.yaml"
    path.write_text(single_user_policy_text())
    adopt(uri, path, by=by, reason="a store without an MLflow server", acknowledge_weakening=SINGLE_USER_WEAKENING)


def single_user_policy():
    """The single-user policy as `single_user` adopts it (a Policy), for tests that compare labels and digests."""
    import tempfile

    from harness.policy import load_policy, single_user_policy_text

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "single-user-policy.yaml"
        path.write_text(single_user_policy_text())
        return load_policy(path)


@pytest.fixture
def bwrap() -> None:
    """Bubblewrap must work for this test: skipped with the reason where it cannot, a failure under CI=true
    (`.ci/run` installs it), like the dataset mirror."""
    from harness.sandbox import bwrap_status

    ok, why = bwrap_status()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"bubblewrap is required under CI: {why}")
        pytest.skip(f"bubblewrap is not usable here ({why}); install it with: apt-get install bubblewrap")


@pytest.fixture
def no_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A machine without bwrap: an empty PATH (the worker is started by absolute path)."""
    from harness.sandbox import ISOLATION_ENV, bwrap_status

    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    bwrap_status.cache_clear()
    yield
    bwrap_status.cache_clear()


def headlines(names: list[str]) -> dict[str, tuple[str, ...]]:
    """The installed suites' `Suite.headline` patterns, as the pipeline hands them to the MLflow layer."""
    from harness.plugins import load_suite

    return {name: tuple(load_suite(name).headline) for name in names}

