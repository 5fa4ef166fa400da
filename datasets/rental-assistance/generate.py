"""Generate the synthetic rental-assistance reference data (`rental_assistance.csv`).

Why synthetic: the harness needs bundled data whose bias is *known*, so a demo and the tests can
show that the bias suite catches a real adverse impact and passes a fair model. Real applications
are confidential (they hold income, household and eviction records), and a real data set never says
how much bias it contains. Here the data-generating process is the documentation.

Run ``python datasets/rental-assistance/generate.py`` to (re)write ``rental_assistance.csv`` next to
this file. Same numpy + pandas versions and the same seed give the same bytes; the card pins them by
sha256, and ``tests/test_demo_data.py`` regenerates the file and compares bytes.

The process, one row per application for the City's emergency rental-assistance programme:

1. Protected attributes. ``sex`` is Female with probability 0.55 (women head most applying
   households). ``race`` is drawn from Hispanic 0.38, White 0.26, Black 0.13, Native American 0.12,
   Asian 0.11: shares chosen so every sex x race cell has several hundred rows, enough for
   intersectional metrics with tight intervals.
2. Neighbourhood, the proxy. Each race lives mostly in its own "home" neighbourhoods (historic
   segregation): with probability ``HOME_SHARE`` = 0.75 an applicant is in one of the race's home
   neighbourhoods (``HOME``), otherwise in any of the 12 neighbourhoods N01..N12 uniformly. This
   makes ``neighbourhood`` a strong proxy for ``race`` (Cramér's V about 0.7).
3. Legitimate need features, drawn independently of sex, race and neighbourhood, so every group
   has the same distribution of need: ``household_size``, ``has_children``, ``monthly_income``,
   ``income_pct_ami`` (income as a percentage of the area median income for that household size,
   the measure the programme's rules use), ``rent``, ``rent_burden`` (rent / income),
   ``months_in_arrears`` and ``eviction_notice``.
4. ``eligible``, the ground truth: the programme's published rule, applied to the rounded columns
   as written in the file,

       income_pct_ami <= 80  and  (rent_burden >= 0.40  or  months_in_arrears >= 2  or  eviction_notice == 1)

   with each label flipped with probability ``ELIGIBLE_NOISE`` = 0.02 (outcomes of the full
   document review that the columns do not capture). It depends on need only, so its rate is the
   same for every race and sex up to sampling error, and a model of need alone is fair.
5. ``prior_decision``, historical caseworker decisions, with the injected bias. Caseworkers applied
   the same rule, except that in the "red-flagged" neighbourhoods ``PENALISED`` = N07..N11 they also
   demanded proof of imminent loss of housing (an eviction notice or at least 3 months in arrears)
   and denied eligible applicants without it. Each decision is then flipped with probability
   ``PRIOR_NOISE`` = 0.03 (caseworker inconsistency). N08 and N09 are home to Black applicants,
   N10 and N11 to Native American applicants and N07 to Hispanic applicants, so the penalty lands on
   those races through the neighbourhood: the ratio of the lowest race approval rate to the highest
   is about 0.65, against about 0.97 for ``eligible``. A model trained to reproduce
   ``prior_decision`` from need plus neighbourhood inherits this adverse impact without ever
   seeing race.

``application_id`` is "RA-" and a six-digit row number. ``generate(seed)`` returns the frame;
``write(path)`` writes it as CSV.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261127
N_ROWS = 12_000
CSV_NAME = "rental_assistance.csv"

SEX = {"Female": 0.55, "Male": 0.45}
RACE = {"Hispanic": 0.38, "White": 0.26, "Black": 0.13, "Native American": 0.12, "Asian": 0.11}
NEIGHBOURHOODS = [f"N{i:02d}" for i in range(1, 13)]
HOME_SHARE = 0.65
HOME = {
    "White": ["N01", "N02", "N03"],
    "Hispanic": ["N04", "N05", "N06", "N07"],
    "Black": ["N08", "N09"],
    "Native American": ["N10", "N11"],
    "Asian": ["N12"],
}
PENALISED = ["N07", "N08", "N09", "N10", "N11"]

# Monthly area median income (100 % AMI) by household size, HUD-style size adjustment of a
# 4-person median of $5,400 a month.
AMI_FACTOR = {1: 0.70, 2: 0.80, 3: 0.90, 4: 1.00, 5: 1.08, 6: 1.16, 7: 1.24}
AMI_4_PERSON = 5_400
HOUSEHOLD_P = [0.30, 0.24, 0.18, 0.14, 0.08, 0.04, 0.02]

AMI_LIMIT = 80.0
BURDEN_LIMIT = 0.40
ARREARS_LIMIT = 2
PROOF_ARREARS = 2
ELIGIBLE_NOISE = 0.02
PRIOR_NOISE = 0.03

COLUMNS = [
    "application_id", "household_size", "has_children", "monthly_income", "income_pct_ami", "rent",
    "rent_burden", "months_in_arrears", "eviction_notice", "neighbourhood", "sex", "race",
    "eligible", "prior_decision",
]


def _assign_groups(rng: np.random.Generator, stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sex and race for every row, with each sex x race cell taking its share of every stratum.

    Independent draws would leave the eligibility rate of a 600-row cell a couple of points off the
    others by chance alone, which reads as bias in a fair model. Quotas per stratum (largest
    remainder, remainders allotted at random) remove that noise while keeping the shares."""
    cells = [(s, r) for s in SEX for r in RACE]
    shares = np.array([SEX[s] * RACE[r] for s, r in cells])
    cell = np.empty(len(stratum), dtype=int)
    for value in np.unique(stratum):
        rows = np.flatnonzero(stratum == value)
        quota = shares * len(rows)
        counts = np.floor(quota).astype(int)
        short = len(rows) - counts.sum()
        if short:
            frac = quota - counts
            counts[rng.choice(len(cells), size=short, replace=False, p=frac / frac.sum())] += 1
        cell[rows] = rng.permutation(np.repeat(np.arange(len(cells)), counts))
    sex = np.array([cells[c][0] for c in cell], dtype=object)
    race = np.array([cells[c][1] for c in cell], dtype=object)
    return sex, race


def generate(seed: int = SEED, n: int = N_ROWS) -> pd.DataFrame:
    """Draw `n` applications. Every column is drawn in a fixed order from one generator, so the
    same seed gives the same frame; changing the order of draws changes the data (and its sha256)."""
    rng = np.random.default_rng(seed)

    # legitimate need features: independent of sex, race and neighbourhood by construction
    household_size = rng.choice(np.arange(1, 8), size=n, p=HOUSEHOLD_P)
    has_children = ((household_size >= 2) & (rng.random(n) < 0.25 + 0.12 * household_size)).astype(int)
    ami = AMI_4_PERSON * np.array([AMI_FACTOR[s] for s in household_size])
    monthly_income = np.maximum(400, np.round(ami * rng.lognormal(np.log(0.66), 0.45, n), -1)).astype(int)
    income_pct_ami = np.round(100 * monthly_income / ami, 1)
    rent = np.round((700 + 140 * household_size) * rng.lognormal(0.0, 0.22, n) / 5) * 5
    rent = rent.astype(int)
    rent_burden = np.round(rent / monthly_income, 3)
    months_in_arrears = np.minimum(12, rng.poisson(0.3 + 1.8 * np.minimum(rent_burden, 1.2))).astype(int)
    eviction_notice = (rng.random(n) < 1 / (1 + np.exp(2.8 - 0.7 * months_in_arrears))).astype(int)

    # ground truth: the published rule, plus a little review noise
    need = (income_pct_ami <= AMI_LIMIT) & (
        (rent_burden >= BURDEN_LIMIT) | (months_in_arrears >= ARREARS_LIMIT) | (eviction_notice == 1)
    )
    eligible = (need ^ (rng.random(n) < ELIGIBLE_NOISE)).astype(int)

    # protected attributes: stratified randomisation within need x eligibility, so every sex x race
    # cell gets the same share of needy and eligible applicants (exactly, up to one row per stratum)
    sex, race = _assign_groups(rng, need.astype(int) * 2 + eligible)

    # neighbourhood: a home neighbourhood of the applicant's race, or anywhere
    at_home = rng.random(n) < HOME_SHARE
    anywhere = rng.integers(0, len(NEIGHBOURHOODS), n)
    pick = rng.random(n)
    neighbourhood = np.array([NEIGHBOURHOODS[i] for i in anywhere], dtype=object)
    for r, homes in HOME.items():
        rows = at_home & (race == r)
        neighbourhood[rows] = np.array(homes, dtype=object)[(pick[rows] * len(homes)).astype(int)]

    # historical decisions: the same rule, plus a proof-of-crisis demand in red-flagged neighbourhoods
    proof = (eviction_notice == 1) | (months_in_arrears >= PROOF_ARREARS)
    penalised = np.isin(neighbourhood, PENALISED)
    approved = need & (~penalised | proof)
    prior_decision = (approved ^ (rng.random(n) < PRIOR_NOISE)).astype(int)

    frame = pd.DataFrame({
        "application_id": [f"RA-{i:06d}" for i in range(1, n + 1)],
        "household_size": household_size.astype(int),
        "has_children": has_children,
        "monthly_income": monthly_income,
        "income_pct_ami": income_pct_ami,
        "rent": rent,
        "rent_burden": rent_burden,
        "months_in_arrears": months_in_arrears,
        "eviction_notice": eviction_notice,
        "neighbourhood": neighbourhood.astype(str),
        "sex": sex.astype(str),
        "race": race.astype(str),
        "eligible": eligible,
        "prior_decision": prior_decision,
    })
    return frame[COLUMNS]


def write(path: str | Path, seed: int = SEED) -> Path:
    """Write the generated data as CSV with fixed formatting (`\\n` line ends, no index), so the
    bytes, and therefore the card's sha256, depend only on the seed and the library versions."""
    path = Path(path)
    generate(seed).to_csv(path, index=False, lineterminator="\n")
    return path


if __name__ == "__main__":
    out = write(Path(__file__).resolve().parent / CSV_NAME)
    sys.stdout.write(f"wrote {out} ({out.stat().st_size:,} bytes)\n")
