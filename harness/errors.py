"""The exception tree. Every error a user can cause is a `HarnessError`: the CLI turns it into one
clear message and exit code 2 (bad input) or 4 (the assessment could not complete), never a traceback.
"""
from __future__ import annotations


class HarnessError(Exception):
    """Base class: the message says what was wrong, where, and how to fix it. A refusal by a named rule carries
    it as data (`rule`, `section`, the policy section it enforces, and `detail`, the setting or value it turned
    on), so a caller (a notebook, the register, a decision memo) can act on which rule said no without parsing
    the message (issue 13). Other errors leave them None."""

    exit_code = 2

    def __init__(self, message: str = "", *, rule: str | None = None, section: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.rule, self.section, self.detail = rule, section, detail


class ConfigError(HarnessError):
    """A manifest, policy, suite name or command-line option is wrong."""


class DatasetError(HarnessError):
    """A dataset card, its data file or its contents do not match what was declared."""


class ToolError(HarnessError):
    """The tool under assessment could not be loaded or called, or returned unusable output."""

    exit_code = 4


class ToolConfigError(ToolError):
    """The tool's own files (model, predictions) are missing or malformed: the user's input."""

    exit_code = 2


class CheckError(HarnessError):
    """A check failed to compute; the check's finding becomes ERROR (blocking checks count as FAIL)."""

    exit_code = 4


class TrackingError(HarnessError):
    """The MLflow store cannot be reached or written."""


class GateError(HarnessError):
    """An approval-gate rule refused a decision, naming the rule as data (`HarnessError.rule`, `.section`,
    `.detail`); other gate errors (a broken history, a missing run) leave them None."""


class HarnessWarning(UserWarning):
    """Our own warnings; the test suite turns them into errors."""
