"""The counterfactual check at scale: above `bias.counterfactual_max_rows` it flips a seeded sample, says so,
and its interval holds the whole data's flip rate; below it, and in how it builds the changed inputs, it
does what it did (the same draws, the same texts, the same groups), only without a million Python strings."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.check import CheckContext, CheckOutput
from harness.datasets import DatasetCard, ReferenceDataset
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.tools import Predictions
from harness.tools.python import PythonTool
from test_suites.bias.checks_inputs import Counterfactual, flip, redraw, text_groups
from tests.conftest import MANIFEST

ZONES = np.array([f"z{i}" for i in range(8)])


def applications(n: int, seed: int = 0) -> pd.DataFrame:
    """n rows: race A/B/C as text, an income, and a zone that is a proxy for race (A lives in z0-z3)."""
    rng = np.random.default_rng(seed)
    race = rng.choice(np.array(["A", "B", "C"]), n, p=[0.5, 0.3, 0.2])
    zone = np.where(race == "A", rng.integers(0, 4, n), rng.integers(3, 8, n))
    return pd.DataFrame({"id": np.arange(n), "race": race, "income": rng.normal(50, 10, n).round(2),
                         "zone": ZONES[zone], "approved": (rng.random(n) < 0.4).astype(int)})


def uses_race_and_zone(frame: pd.DataFrame) -> np.ndarray:
    """Five income points off for race B, three for zones z6 and z7: decisions that flip with race exactly
    for A and B applicants with an income in (50, 55], and with the zone for some of those in (50, 53]."""
    race_b = (frame["race"] == "B").to_numpy(dtype=bool, na_value=False)
    penalty = 5 * race_b + 3 * frame["zone"].isin(["z6", "z7"]).to_numpy()
    return ((frame["income"].to_numpy() - penalty) > 50).astype(int)


def context(frame: pd.DataFrame, tmp_path: Path, max_rows: int | None = None) -> CheckContext:
    card = DatasetCard(name="applications", version="1", task="binary-classification", file="none.csv",
                       sha256="0" * 64, source="generated", license="CC0-1.0",
                       target={"column": "approved", "positive": 1}, id_column="id",
                       features=["race", "income", "zone"],
                       protected_attributes={"race": {"reference": "A", "proxies": ["zone"]}})
    ds = ReferenceDataset(card=card, card_path=tmp_path / "card.yaml", data_path=tmp_path / "none.csv", frame=frame,
                          sha256=hashlib.sha256(b"").hexdigest())
    (tmp_path / "tool.yaml").write_text(MANIFEST.format(id="uses-race") + "adapter:\n  kind: python\n"
                                        "  callable: numpy:zeros\n")
    policy = load_policy()
    if max_rows is not None:
        policy = policy.model_copy(update={"settings": {**policy.settings, "bias": {
            **policy.settings["bias"], "counterfactual_max_rows": max_rows}}})
    return CheckContext(dataset=ds, predictions=Predictions(labels=uses_race_and_zone(frame)), policy=policy,
                        manifest=load_manifest(tmp_path / "tool.yaml"), seed=5,
                        tool=PythonTool(fn=uses_race_and_zone, name="uses-race"))


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return applications(300_000, seed=1)


@pytest.fixture(scope="module")
def whole(large: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> CheckOutput:
    """The check on every row (the cap raised to the data's size)."""
    return Counterfactual().run(context(large, tmp_path_factory.mktemp("whole"), max_rows=len(large)))


def test_the_whole_data_give_the_injected_flip_rate(large: pd.DataFrame, whole: CheckOutput, tmp_path: Path) -> None:
    out = Counterfactual().run(context(large, tmp_path))  # 300,000 rows > the default cap of 100,000
    [m] = [m for m in whole.measurements if m.metric == "flip_rate"]
    race, income, far = large["race"], large["income"], large["zone"].isin(["z6", "z7"])
    # by hand: B <-> A moves the 5-point penalty; A lives in z0-z3 (no zone penalty), B in z6-z7 carries 8
    # points and 3 once flipped to A; C -> A changes nothing
    expected = ((race == "A") & (income > 50) & (income - 5 <= 50)
                | (race == "B") & ~far & (income - 5 <= 50) & (income > 50)
                | (race == "B") & far & (income - 8 <= 50) & (income - 3 > 50)).mean()
    assert m.value == expected and m.n == len(large) and "sampled" not in m.details
    assert "sample" not in whole.messages[m.key]
    [s] = [m for m in out.measurements if m.metric == "flip_rate"]
    assert s.n == 100_000 and s.details["sampled"] is True and s.details["rows"] == 300_000


@pytest.mark.parametrize("metric", ["flip_rate", "proxy_flip_rate"])
def test_a_sampled_flip_rate_holds_the_whole_datas_in_its_interval(large: pd.DataFrame, whole: CheckOutput,
                                                                   tmp_path: Path, metric: str) -> None:
    full = {m.metric: m for m in whole.measurements}
    sampled = Counterfactual().run(context(large, tmp_path, max_rows=20_000))
    m = next(m for m in sampled.measurements if m.metric == metric)
    assert m.n == 20_000 and m.details == {**m.details, "sampled": True, "rows": 300_000}
    assert m.ci_low <= full[metric].value <= m.ci_high
    assert m.ci_high - m.ci_low > 2.5 * (full[metric].ci_high - full[metric].ci_low)  # 15 times fewer rows
    assert 0.01 < full[metric].value < 0.2  # an effect to find, not a rate of 0
    message = sampled.messages[m.key]
    assert "on a seeded sample of 20,000 of 300,000 rows)" in message and f"of {20_000:,} decisions" in message
    table = sampled.tables[f"bias.counterfactual.{metric}.{m.group}"]
    assert sum(r["n"] for r in table) == 20_000 and [r["group"] for r in table] == ["A", "B", "C"]
    # the same seed, the same sample: the finding is reproducible
    again = Counterfactual().run(context(large, tmp_path, max_rows=20_000))
    assert next(x for x in again.measurements if x.metric == metric).value == m.value


def test_below_the_cap_the_draws_are_the_old_ones(tmp_path: Path) -> None:
    """rng.choice(pool, n) on the proxy's values at the reference rows, as the check drew them before."""
    frame = applications(5_000, seed=2)
    ctx = context(frame, tmp_path)
    out = Counterfactual().run(ctx)
    rng = ctx.rng("bias.counterfactual")
    changed = frame[["race", "income", "zone"]].copy()
    changed["zone"] = rng.choice(frame.loc[frame["race"] == "A", "zone"].to_numpy(), size=len(frame), replace=True)
    flips = uses_race_and_zone(changed) != uses_race_and_zone(frame)
    [m] = [m for m in out.measurements if m.metric == "proxy_flip_rate"]
    assert m.value == flips.mean() and m.details["flipped"] == flips.sum()
    rows = {r["group"]: r for r in out.tables["bias.counterfactual.proxy_flip_rate.zone"]}
    for g in ("A", "B", "C"):
        assert rows[g]["flip_rate"] == flips[frame["race"] == g].mean()
        assert rows[g]["favourable_after"] == uses_race_and_zone(changed)[frame["race"] == g].mean()


COLUMNS = {
    "text": pd.Series(["a", "b", None, "c", "a", "b"] * 50, dtype="str"),
    "string": pd.Series(["a", "b", None, "c", "a", "b"] * 50, dtype="string"),
    "ints": pd.Series(np.arange(300) % 7),
    "floats": pd.Series(np.where(np.arange(300) % 11 == 0, np.nan, np.arange(300) / 4)),
    "bools": pd.Series(np.arange(300) % 3 == 0),
    "category": pd.Series(pd.Categorical(["x", "y", "z"] * 100)),
    "objects": pd.Series([1, "1", None, 2.5] * 75, dtype=object),
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_redraw_sets_the_values_and_dtype_the_numpy_draws_set(kind: str) -> None:
    column = COLUMNS[kind]
    pool = np.flatnonzero(np.arange(len(column)) % 4 != 1)
    old, new = pd.DataFrame({"k": np.zeros(len(column))}), pd.DataFrame({"k": np.zeros(len(column))})
    old["v"] = np.random.default_rng(8).choice(column.to_numpy()[pool], size=len(column), replace=True)
    new["v"] = redraw(column, pool, len(column), np.random.default_rng(8))
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(ValueError, match="a cannot be empty"):
        redraw(column, pool[:0], 3, np.random.default_rng(8))


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_text_groups_are_the_groupby_groups(kind: str, tmp_path: Path) -> None:
    column = COLUMNS[kind]
    frame = pd.DataFrame({"id": np.arange(len(column)), "race": column, "income": 50.0, "zone": "z0", "approved": 1})
    codes, names = text_groups(context(frame, tmp_path), "race")
    groups = column.astype(str).groupby(column.astype(str)).groups
    assert names == [str(k) for k in groups]
    for i, (_, idx) in enumerate(groups.items()):
        np.testing.assert_array_equal(np.flatnonzero(codes == i), np.asarray(idx))
    assert (codes < 0).sum() == len(column) - sum(len(v) for v in groups.values())


@pytest.mark.parametrize("kind", ["text", "string"])
def test_flipping_text_gives_the_generic_flip(kind: str) -> None:
    column = COLUMNS[kind]
    generic = flip(column.astype(object), "a").astype(column.dtype)
    for ref in ("a", "zzz"):
        generic = flip(column.astype(object), ref).astype(column.dtype)
        pd.testing.assert_series_equal(flip(column, ref), generic)
