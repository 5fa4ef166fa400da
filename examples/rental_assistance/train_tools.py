"""Train the two demo tools for the rental-assistance reference data and save them with skops.

- ``vendor_model.skops``, "Example Analytics RentRank 2.1": a gradient-boosted model fitted to the
  programme's historical caseworker decisions (``prior_decision``) from the need features *and*
  ``neighbourhood``. The historical decisions penalised five neighbourhoods (see
  ``datasets/rental-assistance/generate.py``); the model learns that penalty through the
  neighbourhood column and so has an adverse impact by race, although it never sees race. This is the
  failure the bias suite exists to catch.
- ``fair_model.skops``, "Rental screening baseline": the same learner fitted to ``eligible`` (the
  programme's rule) from the need features only. It is the control: the harness should pass it.

Both are fitted on a *separate* draw of the generator (``TRAINING_SEED``), standing in for the
applications a vendor trained on, and are assessed on the bundled reference data
(``datasets/rental-assistance/rental_assistance.csv``, the generator's default seed). So the numbers
the harness reports are out of sample, as they would be for a real vendor model.

Only types that skops trusts by default are used (no ``FunctionTransformer``, no lambdas), so the
harness loads the files without an ``adapter.trusted`` list. Everything is seeded: running
``python examples/rental_assistance/train_tools.py`` again gives models with identical predictions
(``tests/test_demo_data.py`` checks this).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
GENERATOR = HERE.parent.parent / "datasets" / "rental-assistance" / "generate.py"
TRAINING_SEED = 20190101  # not the reference data's seed: the vendor's own historical applications
MODEL_SEED = 0

NUMERIC = ["household_size", "monthly_income", "income_pct_ami", "rent", "rent_burden", "months_in_arrears"]
BINARY = ["has_children", "eviction_notice"]
NEED_FEATURES = NUMERIC + BINARY
VENDOR_FEATURES = [*NEED_FEATURES, "neighbourhood"]
FAIR_FEATURES = NEED_FEATURES

VENDOR_FILE = "vendor_model.skops"
FAIR_FILE = "fair_model.skops"


def load_generator() -> ModuleType:
    """Import the data generator by path: ``datasets/`` is data, not a package (no ``__init__.py``,
    so it never shadows the ``datasets`` library)."""
    spec = importlib.util.spec_from_file_location("rental_assistance_generate", GENERATOR)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the generator {GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def training_frame() -> pd.DataFrame:
    """The vendor's training data: a fresh draw of the same process, disjoint from the reference data."""
    return load_generator().generate(seed=TRAINING_SEED)


def _pipeline(numeric: list[str], binary: list[str], categorical: list[str]) -> Pipeline:
    transformers: list[tuple[str, object, list[str]]] = [
        ("numeric", StandardScaler(), numeric),
        ("binary", "passthrough", binary),
    ]
    if categorical:
        transformers.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    return Pipeline([
        ("features", ColumnTransformer(transformers)),
        ("model", GradientBoostingClassifier(n_estimators=150, max_depth=3, random_state=MODEL_SEED)),
    ])


def train_vendor(df: pd.DataFrame) -> Pipeline:
    """RentRank: reproduces past caseworker decisions, neighbourhood included (and with it, their bias)."""
    model = _pipeline(NUMERIC, BINARY, ["neighbourhood"])
    return model.fit(df[VENDOR_FEATURES], df["prior_decision"])


def train_fair(df: pd.DataFrame) -> Pipeline:
    """Baseline: predicts the programme's own eligibility rule from need features only."""
    model = _pipeline(NUMERIC, BINARY, [])
    return model.fit(df[FAIR_FEATURES], df["eligible"])


def save(model: Pipeline, path: Path) -> Path:
    import skops.io as sio

    sio.dump(model, path)
    return path


def main(out_dir: Path = HERE) -> list[Path]:
    df = training_frame()
    return [save(train_vendor(df), out_dir / VENDOR_FILE), save(train_fair(df), out_dir / FAIR_FILE)]


if __name__ == "__main__":
    for written in main():
        sys.stdout.write(f"wrote {written} ({written.stat().st_size:,} bytes)\n")
