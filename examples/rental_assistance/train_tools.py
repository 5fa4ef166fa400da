"""Train the two demo tools for the rental-assistance reference data and save them with skops.

- ``vendor_model.skops``, "Example Analytics RentRank 2.1": a logistic regression fitted to the
  programme's historical caseworker decisions (``prior_decision``) from the need features *and*
  ``neighbourhood``. Those decisions docked points from five neighbourhoods where most Black and
  Native American applicants live (see ``datasets/rental-assistance/generate.py``); the model learns
  the penalty as neighbourhood coefficients and so has an adverse impact by race although it never
  sees race. This is the failure the bias suite exists to catch.
- ``fair_model.skops``, "Rental screening baseline": the same learner fitted to ``eligible`` (the
  programme's own rule) from the need features only. It is the control the harness should pass.

Both are fitted on a *separate* draw of the generator (``TRAINING_SEED``), standing in for the
applications a vendor trained on, and are assessed on the bundled reference data (the generator's
default seed). So the numbers an assessment reports are out of sample, as for a real vendor model.

Why logistic regression and not boosted trees: ``sklearn.tree._tree.Tree`` is not on the harness
allowlist of skops types (``harness/tools/skops_trust.py``; skops itself does not trust it, since a
crafted tree can crash the process). Only the City's policy can add types
(``settings.sandbox.trusted_types``), never a manifest: an ``adapter.trusted`` asking for more is
refused, and a skops file needing other types runs in the sandboxed worker like a pickle. Scaler,
one-hot encoder, column transformer, pipeline and logistic regression are all on the allowlist, so
the files load in the harness process with the default policy and no ``adapter.trusted`` list.
The eligibility rule is a threshold on a linear points score, which a logistic regression fits
closely. Everything is deterministic: rerunning ``python examples/rental_assistance/train_tools.py``
gives models with identical predictions (``tests/test_demo_data.py`` checks this).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
GENERATOR = HERE.parent.parent / "datasets" / "rental-assistance" / "generate.py"
TRAINING_SEED = 20190101  # not the reference data's seed: the vendor's own historical applications

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
    """The vendor's training data: a separate draw of the same process, not the rows that are assessed."""
    return load_generator().generate(seed=TRAINING_SEED)


def _pipeline(numeric: list[str], binary: list[str], categorical: list[str]) -> Pipeline:
    """Scale the numbers, pass the 0/1 flags, one-hot the categories (ignoring unseen ones), then a
    nearly unregularised logistic regression: with 14,000 rows the penalty is not needed, and a weak
    one lets the model find the rule's cut-off rather than shrink towards the base rate."""
    transformers: list[tuple[str, object, list[str]]] = [
        ("numeric", StandardScaler(), numeric),
        ("binary", "passthrough", binary),
    ]
    if categorical:
        transformers.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    return Pipeline([
        ("features", ColumnTransformer(transformers)),
        ("model", LogisticRegression(C=100.0, max_iter=5000)),
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
