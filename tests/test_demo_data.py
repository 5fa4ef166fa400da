"""The bundled demo data and demo tools are what their card and README say they are.

The demo's story rests on three facts: the rental-assistance CSV is reproducible from its generator
(so its sha256 names the process, not just the bytes), the injected bias is present in it (a race
proxy and biased historical decisions, with need equal across groups), and the two committed models
behave as documented (the vendor model has an adverse impact by race, the baseline does not). If the
generator, the training script or a library upgrade changes any of that, these tests say so before
the demo quietly stops demonstrating anything.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference
from scipy.stats import chi2_contingency

from harness.datasets import ReferenceDataset, load_dataset

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "datasets" / "rental-assistance"
EXAMPLE_DIR = ROOT / "examples" / "rental_assistance"


def _load_script(name: str, path: Path) -> ModuleType:
    """Import a script by path: `datasets/` and `examples/` are folders of files, not packages."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load_script("rental_assistance_generate", DATA_DIR / "generate.py")


@pytest.fixture(scope="module")
def train_tools() -> ModuleType:
    return _load_script("rental_assistance_train_tools", EXAMPLE_DIR / "train_tools.py")


@pytest.fixture(scope="module")
def dataset() -> ReferenceDataset:
    return load_dataset(str(DATA_DIR / "card.yaml"))


@pytest.fixture(scope="module")
def committed_models() -> dict[str, object]:
    import skops.io as sio

    models = {}
    for name in ("vendor_model.skops", "fair_model.skops"):
        path = EXAMPLE_DIR / name
        # the harness loads only types skops trusts by default: the demo must not need a trusted list
        assert sio.get_untrusted_types(file=path) == [], name
        models[name] = sio.load(path, trusted=None)
    return models


def _predict(model: object, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict(frame[list(model.feature_names_in_)]))  # type: ignore[attr-defined]


def _groupings(frame: pd.DataFrame) -> dict[str, pd.Series | pd.DataFrame]:
    return {"race": frame["race"], "sex": frame["sex"], "sex x race": frame[["sex", "race"]]}


def _cramers_v(a: pd.Series, b: pd.Series) -> float:
    table = pd.crosstab(a, b).to_numpy()
    chi2 = chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


# (a) reproducible from the generator


def test_regenerated_csv_is_byte_identical_and_matches_the_card(generator: ModuleType, tmp_path: Path,
                                                               dataset: ReferenceDataset) -> None:
    committed = (DATA_DIR / generator.CSV_NAME).read_bytes()
    fresh = generator.write(tmp_path / generator.CSV_NAME).read_bytes()
    assert fresh == committed, "the generator no longer reproduces the committed CSV: rerun it and update the card"
    assert hashlib.sha256(fresh).hexdigest() == dataset.card.sha256 == dataset.sha256
    assert len(committed) < 1_000_000


def test_card_lists_need_features_and_neighbourhood_only(dataset: ReferenceDataset) -> None:
    card = dataset.card
    assert set(card.features).isdisjoint({"sex", "race", "prior_decision", "eligible", "application_id"})
    assert "neighbourhood" in card.features
    assert {k: v.reference for k, v in card.protected_attributes.items()} == {"sex": "Male", "race": "White"}
    assert card.generator == "datasets/rental-assistance/generate.py"


# (b) the injected effect is present


def test_every_sex_race_group_is_large(dataset: ReferenceDataset) -> None:
    counts = dataset.frame.groupby(["sex", "race"]).size()
    assert len(counts) == 10
    assert counts.min() >= 250


def test_neighbourhood_is_a_strong_proxy_for_race(dataset: ReferenceDataset) -> None:
    assert _cramers_v(dataset.frame["neighbourhood"], dataset.frame["race"]) > 0.4


def test_eligibility_is_equal_across_groups(dataset: ReferenceDataset) -> None:
    frame = dataset.frame
    assert 0.35 <= frame["eligible"].mean() <= 0.50
    for column in ("race", "sex"):
        rates = frame.groupby(column)["eligible"].mean()
        assert rates.max() - rates.min() < 0.05, rates.to_dict()


def test_historical_decisions_have_an_adverse_impact_by_race(dataset: ReferenceDataset) -> None:
    rates = dataset.frame.groupby("race")["prior_decision"].mean()
    assert rates.min() / rates.max() < 0.8, rates.to_dict()
    by_sex = dataset.frame.groupby("sex")["prior_decision"].mean()
    assert by_sex.min() / by_sex.max() > 0.9, "the injected bias is by neighbourhood (race), not by sex"


# (c) the committed models behave as documented (fairlearn is the oracle)


def test_vendor_model_has_an_adverse_impact_by_race(dataset: ReferenceDataset, committed_models: dict) -> None:
    frame = dataset.frame
    model = committed_models["vendor_model.skops"]
    assert "neighbourhood" in list(model.feature_names_in_)
    pred = _predict(model, frame)
    groups = _groupings(frame)
    for name in ("race", "sex x race"):
        ratio = demographic_parity_ratio(frame["eligible"], pred, sensitive_features=groups[name])
        assert 0.5 < ratio < 0.75, (name, ratio)  # README: 0.634 by race, 0.625 by sex x race


def test_fair_model_passes_with_headroom(dataset: ReferenceDataset, committed_models: dict) -> None:
    frame = dataset.frame
    model = committed_models["fair_model.skops"]
    assert set(model.feature_names_in_).isdisjoint({"neighbourhood", "sex", "race", "prior_decision"})
    pred = _predict(model, frame)
    for name, groups in _groupings(frame).items():
        ratio = demographic_parity_ratio(frame["eligible"], pred, sensitive_features=groups)
        eod = equalized_odds_difference(frame["eligible"], pred, sensitive_features=groups)
        assert ratio >= 0.9, (name, ratio)
        assert eod < 0.06, (name, eod)


# (d) the committed models are what train_tools makes


def test_retraining_reproduces_the_committed_models(train_tools: ModuleType, tmp_path: Path,
                                                    dataset: ReferenceDataset, committed_models: dict) -> None:
    import skops.io as sio

    training = train_tools.training_frame()
    # a separate draw, so the assessment on the reference data is out of sample
    assert not np.array_equal(training["monthly_income"].to_numpy(), dataset.frame["monthly_income"].to_numpy())
    retrained = {
        "vendor_model.skops": train_tools.train_vendor(training),
        "fair_model.skops": train_tools.train_fair(training),
    }
    for name, model in retrained.items():
        path = train_tools.save(model, tmp_path / name)
        reloaded = sio.load(path, trusted=None)
        committed = committed_models[name]
        assert list(reloaded.feature_names_in_) == list(committed.feature_names_in_)
        np.testing.assert_array_equal(_predict(reloaded, dataset.frame), _predict(committed, dataset.frame))
        np.testing.assert_allclose(
            reloaded.predict_proba(dataset.frame[list(reloaded.feature_names_in_)]),
            committed.predict_proba(dataset.frame[list(committed.feature_names_in_)]),
            rtol=0, atol=1e-9,
        )


def test_current_sample_is_reproducible_and_drifts_only_in_rent(generator: ModuleType, tmp_path: Path,
                                                                  dataset: ReferenceDataset) -> None:
    committed = DATA_DIR / generator.CURRENT_NAME
    fresh = generator.write_current(tmp_path / generator.CURRENT_NAME)
    assert fresh.read_bytes() == committed.read_bytes()
    current = pd.read_csv(committed)
    ref = dataset.frame
    # the injected drift: rents 12 % higher; incomes unchanged
    assert current["rent"].mean() / ref["rent"].mean() == pytest.approx(1.12, abs=0.02)
    assert current["monthly_income"].mean() / ref["monthly_income"].mean() == pytest.approx(1.0, abs=0.02)
    assert "eligible" not in current.columns
