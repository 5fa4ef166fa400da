"""Generate the synthetic rental-assistance reference data (`rental_assistance.csv`).

Why synthetic: the harness needs bundled data whose bias is *known*, so that the demo and the tests
can show the bias suite catching a real adverse impact and passing a fair model. Real applications
are confidential (income, household and eviction records), and a real data set never says how much
bias it holds. Here the data-generating process is the documentation.

``python datasets/rental-assistance/generate.py`` (re)writes ``rental_assistance.csv`` next to this
file. The same seed and numpy/pandas versions give the same bytes; the card pins them by sha256 and
``tests/test_demo_data.py`` regenerates the file and compares bytes.

The process, one row per application to the City's emergency rental-assistance programme
(``N_ROWS`` = 14,000, ``SEED`` = 20261127):

1. Need features, drawn independently of sex, race and neighbourhood, so every group has the same
   distribution of need. ``household_size`` (1-7); ``has_children``; ``monthly_income``, at most
   ``AMI_LIMIT`` = 80 % of the area median income (AMI) for the household size because the intake
   screen turns higher incomes away; ``income_pct_ami`` (that income as a % of AMI); ``rent``;
   ``rent_burden`` = rent / income (above 1 for the poorest households); ``months_in_arrears``
   (more likely with a high burden) and ``eviction_notice`` (more likely with arrears).
2. ``eligible``, the ground truth: the programme's published points rule on the columns as written
   in the file (see ``need_points``),

       points = 0.5 x (80 - income_pct_ami) + 50 x rent_burden + 4 x months_in_arrears
                + 15 x eviction_notice + 5 x has_children

   and ``eligible = points + review >= CUTOFF`` (47), where ``review`` ~ Normal(0, ``REVIEW_SD`` = 2)
   stands for what the document review finds that the columns do not show. 43.6 % are eligible
   and 3.0 % of labels differ from the bare rule, all near the cut-off.
3. ``sex`` (Female 0.52, Male 0.48) and ``race`` (Hispanic 0.36, White 0.25, Black 0.14, Native
   American 0.13, Asian 0.12; the smallest sex x race cell has 808 rows) are assigned by stratified
   randomisation: within each stratum of (rule met, eligible) every sex x race cell gets its exact
   share of rows. So eligibility rates are equal across groups up to rounding (43.5-43.7 % with the
   default seed), not just in expectation, and a fair model looks fair on this sample too.
4. ``neighbourhood``, the proxy. With probability ``HOME_SHARE`` = 0.65 an applicant lives in one of
   the home neighbourhoods of their race (``HOME``: White N01-N03, Hispanic N04-N07, Black N08-N09,
   Native American N10-N11, Asian N12, uniformly within the list), otherwise in any of N01-N12
   uniformly. Cramér's V between neighbourhood and race is 0.645 with the default seed.
5. ``prior_decision``, the historical caseworker decisions, with the injected bias. Caseworkers
   applied the same rule but docked ``PENALTY`` = 16 points from applicants in the "red-flagged"
   neighbourhoods ``PENALISED`` = N07-N11, and were inconsistent (Normal(0, ``CASEWORKER_SD`` = 3)
   points): ``prior_decision = points - 16 x [neighbourhood in N07-N11] + noise >= 47``. About 78 %
   of Black and Native American applicants live in those neighbourhoods, against about 14 % of White
   and Asian and 32 % of Hispanic applicants, so with the default seed their approval rates are
   25.8 % (Black) and 26.4 % (Native American) against 40.4 % (White) and 40.5 % (Asian): a ratio of
   lowest to highest race approval rate of 0.64, where ``eligible`` has 0.998. Sex plays no part by
   construction (34.9 % Female, 35.4 % Male).
   A model trained to reproduce ``prior_decision`` from need plus neighbourhood inherits this adverse
   impact without ever seeing race.

``application_id`` is "RA-" and a six-digit row number. ``generate(seed)`` returns the frame;
``write(path)`` writes it as CSV.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261127
N_ROWS = 14_000
CSV_NAME = "rental_assistance.csv"

SEX = {"Female": 0.52, "Male": 0.48}
RACE = {"Hispanic": 0.36, "White": 0.25, "Black": 0.14, "Native American": 0.13, "Asian": 0.12}
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

AMI_LIMIT = 80.0     # intake screen: only households at or below 80 % AMI can apply
CUTOFF = 47.0        # eligible when the need score reaches this many points
PENALTY = 16.0       # points caseworkers docked, in effect, in the red-flagged neighbourhoods
REVIEW_SD = 2.0      # points: what the document review adds or removes, unseen in the columns
CASEWORKER_SD = 3.0  # points: caseworker inconsistency in the historical decisions

COLUMNS = [
    "application_id", "household_size", "has_children", "monthly_income", "income_pct_ami", "rent",
    "rent_burden", "months_in_arrears", "eviction_notice", "neighbourhood", "sex", "race",
    "eligible", "prior_decision",
]


def need_points(
    income_pct_ami: np.ndarray, rent_burden: np.ndarray, months_in_arrears: np.ndarray,
    eviction_notice: np.ndarray, has_children: np.ndarray,
) -> np.ndarray:
    """The programme's published need score (points), computed from the columns as written in the file.

    A points rule, as many emergency rental-assistance programmes used to rank applications, so the
    ground truth is exactly a threshold on a linear score of the need features."""
    return (
        0.5 * (AMI_LIMIT - income_pct_ami)
        + 50 * rent_burden
        + 4 * months_in_arrears
        + 15 * eviction_notice
        + 5 * has_children
    )


def _assign_groups(rng: np.random.Generator, stratum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sex and race for every row, with each sex x race cell taking its share of every stratum.

    Independent draws would leave the eligibility rate of an 800-row cell a couple of points off the
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
    share_of_ami = 0.10 + (AMI_LIMIT / 100 - 0.10) * rng.beta(2.4, 1.6, n)  # at most AMI_LIMIT
    monthly_income = (np.floor(ami * share_of_ami / 10) * 10).astype(int)
    income_pct_ami = np.round(100 * monthly_income / ami, 1)
    rent = (np.round((700 + 140 * household_size) * rng.lognormal(0.0, 0.22, n) / 5) * 5).astype(int)
    rent_burden = np.round(rent / monthly_income, 3)
    months_in_arrears = np.minimum(12, rng.poisson(0.2 + 1.6 * np.minimum(rent_burden, 1.2))).astype(int)
    eviction_notice = (rng.random(n) < 1 / (1 + np.exp(2.8 - 0.7 * months_in_arrears))).astype(int)

    # ground truth: the published points rule, plus the review's adjustment
    points = need_points(income_pct_ami, rent_burden, months_in_arrears, eviction_notice, has_children)
    need = points >= CUTOFF
    eligible = (points + rng.normal(0.0, REVIEW_SD, n) >= CUTOFF).astype(int)

    # protected attributes: stratified randomisation within (rule met, eligible), so every sex x race
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

    # historical decisions: the same rule, with points docked in the red-flagged neighbourhoods
    penalised = np.isin(neighbourhood, PENALISED)
    prior_decision = (points - PENALTY * penalised + rng.normal(0.0, CASEWORKER_SD, n) >= CUTOFF).astype(int)

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


CURRENT_NAME = "current_2026q3.csv"
CURRENT_SEED = 20260930
RENT_RISE = 1.12     # rents 12 % higher than in the reference period


def generate_current(seed: int = CURRENT_SEED, n: int = 3_000) -> pd.DataFrame:
    """A later quarter's applications, for the drift check (`harness assess ... --current`): the same
    population, but rents have risen by 12 %, so rent, rent burden and arrears drift while household
    sizes, incomes and neighbourhoods do not. Features and ids only: outcomes are not known yet."""
    frame = generate(seed, n)
    frame["application_id"] = [f"RA-Q3-{i:06d}" for i in range(1, n + 1)]
    frame["rent"] = (np.round(frame["rent"] * RENT_RISE / 5) * 5).astype(int)
    frame["rent_burden"] = np.round(frame["rent"] / frame["monthly_income"], 3)
    rng = np.random.default_rng(seed + 1)
    frame["months_in_arrears"] = np.minimum(
        12, rng.poisson(0.2 + 1.6 * np.minimum(frame["rent_burden"].to_numpy(), 1.2))).astype(int)
    return frame.drop(columns=["eligible", "prior_decision"])


def write_current(path: str | Path, seed: int = CURRENT_SEED) -> Path:
    path = Path(path)
    generate_current(seed).to_csv(path, index=False, lineterminator="\n")
    return path


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for out in (write(here / CSV_NAME), write_current(here / CURRENT_NAME)):
        sys.stdout.write(f"wrote {out} ({out.stat().st_size:,} bytes)\n")
