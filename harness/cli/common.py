"""What every command of `harness` shares: the error handler, the options several commands take, the styles,
and the flags that name a person.

This module imports no other module of `harness.cli` (the command modules import it; `harness.cli.app` imports
them), so the package has no import cycle, and nothing heavy: `--help`, `suites list` and `datasets list` stay
fast (issue 13, sections 3 and 5; tests/test_cli_imports.py).

People are named four ways on the command line, each kept for the scripts and the acceptance contract that use
it: `--by`, `--reviewer`, `--approver`, `--submitter` (and `$HARNESS_USER`). Which default a flag takes depends
on what the person does, not on the flag's spelling, so `person_option` builds every one of them from one table
of rules (`PERSON_RULES`): the same help text and the same default for the same kind of act.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from harness.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from harness.policy import Policy

F = TypeVar("F", bound=Callable[..., Any])

# --- styles (rich markup) -------------------------------------------------------------------------------------

VERDICT_STYLE = {"PASS": "bold green", "NEEDS_REVIEW": "bold yellow", "FAIL": "bold red", "ERROR": "bold magenta"}
"""An assessment's verdict; the order is the one summaries count in."""
FINDING_STYLE = {"REVIEW": "yellow", "INSUFFICIENT": "yellow", "SKIPPED": "dim"}
"""A finding's status where it is not a verdict's name."""
STYLE = {**VERDICT_STYLE, **FINDING_STYLE}
"""A verdict or a finding's status."""
STATE_STYLE = {"approved": "bold green", "waived": "bold yellow", "waiver expired": "bold red",
               "suspended": "bold red", "rejected": "red", "retired": "dim", "assessed": "yellow",
               "submitted": "cyan", "history broken": "bold magenta"}
"""A tool version's approval state (harness.gate)."""


# --- errors ---------------------------------------------------------------------------------------------------

def handle_errors(fn: F) -> F:
    """Every `HarnessError` becomes one message and its exit code (DESIGN.md: 0 PASS, 1 FAIL, 2 bad input,
    3 NEEDS_REVIEW, 4 ERROR), never a traceback. An error's message can quote an item id or a tool's reply: it
    is masked (`harness.redact.mask_pii`, issue 12) like every other line the harness prints."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from harness.redact import mask_pii

        try:
            return fn(*args, **kwargs)
        except HarnessError as e:
            click.echo(mask_pii(f"error: {e}"), err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing further was recorded", err=True)
            sys.exit(130)
        except Exception as e:  # a bug of ours: say so plainly; HARNESS_DEBUG=1 shows the traceback
            if os.environ.get("HARNESS_DEBUG"):
                raise
            if getattr(e, "error_code", None) == "PERMISSION_DENIED" or "failed with error code 403" in str(e):
                # the shared server's access control said no (harness access open, issue 12): not our bug
                who = os.environ.get("MLFLOW_TRACKING_USERNAME") or "this user"
                click.echo(mask_pii(f"error: the MLflow server refused {who} permission for this: {e}. Your role "
                                    "does not give access to these records (harness access open)"), err=True)
                sys.exit(2)
            click.echo(mask_pii(f"internal error: {type(e).__name__}: {e}\nThis is a bug in the harness; re-run "
                                "with HARNESS_DEBUG=1 for the traceback and report it."), err=True)
            sys.exit(4)
    return wrapper  # type: ignore[return-value]


# --- options several commands take ----------------------------------------------------------------------------

tracking_option = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None,
    help="MLflow store: sqlite:///PATH or http://host:port. Default: $MLFLOW_TRACKING_URI, else "
         "the embedded store mlruns/mlflow.db in the working folder.")

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, envvar="HARNESS_DATA_DIR",
    help="Folder holding dataset files that are not next to their card (a mirror).")

seed_option = click.option("--seed", type=int, default=None, help="Seed for the bootstrap. Default: the policy's.")

suites_option = click.option(
    "--suite", "suites", multiple=True,
    help="Suite to run (repeatable). Default: the policy's required suites for the tool's category.")


def policy_option(what: str) -> Callable[[F], F]:
    """`--policy PATH` into the parameter `policy_path`; `what` says which policy the command wants."""
    return click.option("--policy", "policy_path", type=click.Path(dir_okay=False), default=None,
                        help=f"Policy YAML {what}. Default: the policy shipped with the harness.")


def format_option(*choices: str, default: str, help: str | None = None) -> Callable[[F], F]:
    """`--format` into the parameter `fmt`, the first of `choices` being what a person reads."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default, show_default=True,
                        help=help)


# --- people ---------------------------------------------------------------------------------------------------

PersonRule = Literal["decides", "starts", "fixes", "submits"]
PERSON_ENV = "HARNESS_USER"
LOGIN_NOTE = "On a server with authentication: your login (leave it out; another name is refused)."


@dataclass(frozen=True)
class PersonDefault:
    """How a kind of act finds its person when the flag is left out (resolved by `harness.gate.identity`)."""

    envvar: str | None
    required: bool
    help: str


PERSON_RULES: dict[PersonRule, PersonDefault] = {
    # approve, reject, waive, suspend, retire, policy adopt: a decision needs a named person (policy 2.3), so no
    # environment variable fills it in unseen; `harness.gate.identity.acting` takes the server login instead
    "decides": PersonDefault(None, False, LOGIN_NOTE),
    # assess, reassess: work DTI starts (`harness.gate.identity.actor_name`)
    "starts": PersonDefault(PERSON_ENV, False, f"Default: ${PERSON_ENV}, else the login name. {LOGIN_NOTE}"),
    # plan: the plan records its author as given, before any result is seen (policy 4.2)
    "fixes": PersonDefault(None, True, ""),
    # submit: the vendor's person (`harness submit`)
    "submits": PersonDefault(None, False, f"Default: the manifest's vendor. {LOGIN_NOTE}"),
}


def person_option(flag: str, who: str, rule: PersonRule) -> Callable[[F], F]:
    """The option naming the person who acts, e.g. `person_option("--reviewer", "Who approves (not the
    submitter: policy 2.3, 4.1).", "decides")`. It fills the parameter named after the flag (`--by` -> `by`),
    with the default and help text of its `rule`."""
    rule_of = PERSON_RULES[rule]
    # no `default` at all when required: click (8.5) counts an explicit `default=None` as a default and would
    # let a missing required flag through as None
    extra: dict[str, Any] = {"required": True} if rule_of.required else {"default": None}
    return click.option(flag, flag.lstrip("-").replace("-", "_"), envvar=rule_of.envvar,
                        help=f"{who} {rule_of.help}".strip(), **extra)


# --- what several commands parse ------------------------------------------------------------------------------

def store_uri(tracking_uri: str | None, write: bool) -> str:
    """Reading never creates an embedded store; writing checks the store first, with one clear message."""
    from harness.tracking import check_reachable, resolve_uri, sqlite_path

    uri = resolve_uri(tracking_uri)
    if write or sqlite_path(uri) is None:
        check_reachable(uri)
    return uri


def tool_ref(ref: str, need_version: bool) -> tuple[str, str | None]:
    """`TOOL[:VERSION]` as typed; with `need_version`, a missing version is a usage error that says how."""
    from harness.gate import parse_ref

    tool, version = parse_ref(ref)
    if need_version and version is None:
        raise ConfigError(f"{ref!r} names no version; write TOOL:VERSION (e.g. {tool}:2.1.0), as `harness status "
                          f"{tool}` lists them")
    return tool, version


def parse_when(text: str, option: str) -> datetime | date:
    """A date (YYYY-MM-DD) or an ISO date-time; a date-time without a zone is UTC."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date: write YYYY-MM-DD or an ISO date-time "
                          "(2026-12-31T17:00:00+00:00)") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def policy_or_default(path: str | None) -> Policy | None:
    """The policy at `path`; None lets the library take the policy shipped with the harness."""
    if path is None:
        return None
    from harness.policy import load_policy

    return load_policy(path)
