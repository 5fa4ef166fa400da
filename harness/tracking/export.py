"""Reading a tool's whole record out of MLflow, for the records export (policy 3.2) and the public
transparency register (policy 6.7): every run of the tool's experiment as plain data (`Store.runs`,
`harness.tracking.store.RunRecord`) and each run's artifacts downloaded.

Reads only: nothing here creates an experiment, a run or a store (looking must not create a store).
"""
from __future__ import annotations

from pathlib import Path

from harness.tracking.store import RunRecord, Store


def download_run_artifacts(store: Store, run_id: str, dst: Path) -> list[Path]:
    """Download every artifact of a run into `dst` (kept in the run's folder layout); returns the files,
    sorted. A run without artifacts (or no such run) gives []."""
    dst.mkdir(parents=True, exist_ok=True)
    if store.download(run_id, "", dst) is None:
        return []
    return sorted(p for p in dst.rglob("*") if p.is_file())


__all__ = ["RunRecord", "download_run_artifacts"]
