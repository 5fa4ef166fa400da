"""`harness.tracking.runs.warm`: what `harness assess` does in a thread while the suites run (issue 13, section 5)
changes nothing on disk; a store is made only when a run is recorded."""
from __future__ import annotations

import sys
from pathlib import Path

from harness.tracking.runs import client, warm


def test_warm_imports_mlflow_and_makes_no_store(tmp_path: Path) -> None:
    db = tmp_path / "never" / "m.db"
    warm(f"sqlite:///{db}")
    assert "mlflow.tracking" in sys.modules
    assert not db.exists() and not db.parent.exists()


def test_warm_opens_an_existing_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client(uri).search_experiments()  # made here, as a recorded run would
    before = (tmp_path / "m.db").stat().st_size
    warm(uri)
    assert (tmp_path / "m.db").stat().st_size == before
    assert [e.name for e in client(uri).search_experiments()] == ["Default"]
