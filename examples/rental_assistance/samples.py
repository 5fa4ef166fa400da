"""Generate the demo's quarterly production samples of the rental-assistance screening baseline (issue 16).

A production sample is what the Housing department drops in the tool's monitoring folder each quarter: the
applications the tool saw (its inputs and the applicants' sex and race, which the City records for its civil-rights
monitoring), the tool's **recorded decision** for each (`decision`), and, once the caseworkers' document review has
settled them, the outcomes (`eligible`). Each file has a card in the dataset card format (`harness.datasets`) with
the file's sha256, `decision_column` and a `period` (the quarters script, `quarters.py`, sets the period of the
quarter it simulates when it drops the sample).

``python examples/rental_assistance/samples.py`` (re)writes, next to itself under ``samples/``:

- ``fair_a.csv``, ``fair_b.csv``: two unchanged quarters (the reference population, seeds ``FAIR_SEEDS``, 3,000 rows
  each) with the baseline model's decisions and the outcomes. Nothing moved: an approval should stand.
- ``rent_rise.csv``: the rent-rise quarter, the 3,000 applications of ``datasets/rental-assistance/current_2026q3.csv``
  (rents 12 % higher, so rent, rent burden and arrears drift) and 6,000 more of the same process, with the model's
  decisions; outcomes are not known yet.
- ``unfair.csv``: an unchanged population (seed ``UNFAIR_SEED``) whose recorded decisions became unfair: a "local
  override" added after the approval recorded an approval in the red-flagged neighbourhoods N07-N11 (where 78 % of
  Black and Native American applicants live) only with an eviction notice or at least ``OVERRIDE_ARREARS`` months
  of arrears. The recorded decisions are not the model's any more: Black and Native American applicants are
  selected at 0.28 against 0.39 for White applicants (0.70 of it), with equal eligibility. Re-running the model
  would not show it; the decisions do.

The model's decisions are made by the harness's own `sklearn` adapter on `fair_tool.yaml`, so they are exactly what
the approved tool outputs. Same seeds, same library versions: same bytes (each card pins its file's sha256).
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "datasets" / "rental-assistance"))
import generate as ra  # noqa: E402  (the reference data's generator: the same population process)

OUT = HERE / "samples"
N = 3_000
FAIR_SEEDS = {"fair_a": 20270101, "fair_b": 20270401}
UNFAIR_SEED = 20270701
RENT_RISE_MORE = 20261001
OVERRIDE_ARREARS = 2
PENALISED = ra.PENALISED


def decide(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The approved baseline's decisions and scores on these applications (its manifest, the harness's adapter)."""
    from harness.datasets import DatasetCard, ReferenceDataset
    from harness.manifest import load_manifest
    from harness.tools import load_tool

    tool = load_tool(load_manifest(HERE / "fair_tool.yaml"))
    card = DatasetCard.model_validate(_card("x", "x.csv", "0" * 64, outcomes=True, about=""))
    ds = ReferenceDataset(card=card, card_path=HERE, data_path=HERE, frame=frame, sha256="0" * 64)
    p = tool.predict(ds)
    assert p.scores is not None
    return np.asarray(p.labels).astype(int), np.asarray(p.scores, dtype=float)


def fair(seed: int) -> pd.DataFrame:
    frame = ra.generate(seed, N).drop(columns=["prior_decision"])
    frame["application_id"] = [f"RA-S{seed % 10000:04d}-{i:05d}" for i in range(1, N + 1)]
    frame["decision"], _ = decide(frame)
    return frame


def rent_rise() -> pd.DataFrame:
    """The 3,000 applications of current_2026q3.csv and 6,000 more from the same process (seed RENT_RISE_MORE): on
    3,000 rows the rent's PSI of 0.136 is beyond the stable band's 0.1 at p = 0.013 alone, not after the Holm
    adjustment over a run's ~50 blocking tests; a busier quarter shows it."""
    more = ra.generate_current(RENT_RISE_MORE, 2 * N)
    more["application_id"] = [f"RA-Q3B-{i:06d}" for i in range(1, 2 * N + 1)]
    frame = pd.concat([pd.read_csv(REPO / "datasets" / "rental-assistance" / ra.CURRENT_NAME), more],
                      ignore_index=True)
    frame["decision"], _ = decide(frame)
    return frame


def unfair() -> pd.DataFrame:
    frame = ra.generate(UNFAIR_SEED, N).drop(columns=["prior_decision"])
    frame["application_id"] = [f"RA-S{UNFAIR_SEED % 10000:04d}-{i:05d}" for i in range(1, N + 1)]
    labels, _ = decide(frame)
    overridden = (frame["neighbourhood"].isin(PENALISED) & (frame["eviction_notice"] == 0)
                  & (frame["months_in_arrears"] < OVERRIDE_ARREARS)).to_numpy()
    frame["decision"] = np.where(overridden, 0, labels)
    return frame


def _card(name: str, file: str, sha: str, *, outcomes: bool, about: str) -> dict[str, object]:
    return {
        "name": name, "version": "1", "task": "binary-classification", "file": file, "sha256": sha,
        "source": "generated by examples/rental_assistance/samples.py (synthetic)",
        "generator": "examples/rental_assistance/samples.py", "license": "CC0-1.0", "description": about,
        "target": {"column": "eligible", "positive": 1}, "id_column": "application_id",
        "features": ["household_size", "has_children", "monthly_income", "income_pct_ami", "rent", "rent_burden",
                     "months_in_arrears", "eviction_notice", "neighbourhood"],
        "protected_attributes": {"sex": {"reference": "Male"}, "race": {"reference": "White"}},
        "period": "2026Q1", "decision_column": "decision",
    } | ({} if outcomes else {"known_results": ["outcomes not known yet (no eligible column)"]})


ABOUT = {
    "fair_a": "An unchanged quarter: the reference population, the baseline model's decisions, outcomes known.",
    "fair_b": "Another unchanged quarter (another seed): nothing moved.",
    "rent_rise": "The rent-rise quarter: current_2026q3.csv (rents 12 % higher) with the model's decisions; "
                 "outcomes not known yet.",
    "unfair": "An unchanged population whose recorded decisions became unfair: approvals in N07-N11 recorded only "
              f"with an eviction notice or {OVERRIDE_ARREARS}+ months of arrears (a local override). Outcomes known.",
}


def write(out: Path = OUT) -> list[Path]:
    import yaml

    out.mkdir(exist_ok=True)
    frames = {**{k: fair(s) for k, s in FAIR_SEEDS.items()}, "rent_rise": rent_rise(), "unfair": unfair()}
    written = []
    for name, frame in frames.items():
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        card = _card(f"rental-assistance-{name.replace('_', '-')}", path.name, sha,
                     outcomes="eligible" in frame.columns, about=ABOUT[name])
        (out / f"{name}.card.yaml").write_text(yaml.safe_dump(card, sort_keys=False, width=110))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write():
        sys.stdout.write(f"wrote {p} ({p.stat().st_size:,} bytes)\n")
