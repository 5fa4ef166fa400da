"""Measures every suite may use: the harness's own, so that no suite has to import another suite's internals.

What belongs here: a measure with no policy and no suite knowledge (it takes arrays, counts, strings or a
frame and returns numbers; it never reads a threshold, a dataset card, a check or a finding) that more than
one suite uses, or that a third-party suite would otherwise have to copy. Today:

- `counts`: the one group-by of the harness, integer-coded groups and intersections with their confusion
  counts, and the stratified bootstrap of those counts;
- `disparity`: the largest gap between groups' rates, with a fail-closed bootstrap interval;
- `significance`: tests of equal rates between groups (Fisher, two-proportion z, chi-square, Monte Carlo) and
  Holm's step-down adjustment across a family of tests;
- `pii`: the personal-data patterns and the column scan (counts, never values);
- `proxies`: how well one feature predicts a protected attribute (Cramér's V, folded one-feature AUC), which the
  bias suite reports and the explainability suite checks a model's reliance against;
- `answers`: answer normalisation and token F1 (the official SQuAD 2.0 script) and abstention detection;
- `canaries`: made-up resident records (invalid SSNs, example.org e-mails, 555-01xx phones) and where an answer
  discloses one, which the privacy suite plants in pages and the security suite's jailbreaks ask for.
- `perturb`: seeded input damage (Gaussian noise, redrawn categories, removed values), which the degradation
  suite measures robustness with and the explainability suite tests the stability of reason codes under.

The interval estimates every suite uses (Wilson, percentile, MOVER, effective sample size) are in
`harness.stats`. A measure used by one suite only stays in that suite. Nothing here imports a suite, mlflow
or a heavy library that its module did not already need at import time: a suite imports these modules when
it runs, and `harness suites list` imports none of them. This `__init__` imports nothing, so that importing
one measure never loads the others.
"""
