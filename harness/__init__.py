"""AI Risk Harness: evidence for the City's AI approval gate (city AI policy 4.1-4.3).

Kept import-light on purpose: `harness --help` must not pull in mlflow, fairlearn, aif360 or
great_expectations, so nothing heavy is imported here.
"""
from __future__ import annotations

import os

__version__ = "0.1.0"

# Nothing leaves the City (Code of Ethics, Safety: "must not leak or export sensitive data outside City
# control"; policy 1.3, 1.4): the libraries' usage telemetry is off in every process that imports the
# harness, set before any of them is imported, and inherited by every process the harness starts (the
# sandbox worker sets them again in its cleared environment). Forced, not defaulted: a City deployment does
# not opt back in by accident through an inherited variable.
TELEMETRY_OFF = {
    "MLFLOW_DISABLE_TELEMETRY": "true",   # MLflow 3 usage telemetry
    "DO_NOT_TRACK": "true",               # the cross-tool convention MLflow and others honour
    "GX_ANALYTICS_ENABLED": "False",      # Great Expectations 1.x analytics events
    "HF_HUB_DISABLE_TELEMETRY": "1",      # in case a vendor's model pulls in huggingface_hub
}
os.environ.update(TELEMETRY_OFF)
