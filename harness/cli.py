"""`harness`: a thin command line over the library. Parses, calls, prints with rich.

Heavy libraries (mlflow, great_expectations, fairlearn, aif360, matplotlib, sklearn, scipy, pandas) are imported
inside the commands that need them, so `--help`, `suites list` and `datasets list` answer at once (issue 13, section
5; tests/test_cli_imports.py holds it, benchmarks/bench_cli.py measures it).
Every `HarnessError` becomes one message and its exit code (DESIGN.md: 0 PASS, 1 FAIL, 2 bad input,
3 NEEDS_REVIEW, 4 ERROR), never a traceback.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness import __version__
from harness.errors import HarnessError

if TYPE_CHECKING:
    from rich.console import Console


def _console(stderr: bool = False) -> Console:
    from harness.console import make_console

    return make_console(stderr)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An error's message can quote an item id or a tool's reply: it is masked (`harness.redact.mask_pii`,
    issue 12) like every other line the harness prints."""
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
    return wrapper


tracking_option = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None,
    help="MLflow store: sqlite:///PATH or http://host:port. Default: $MLFLOW_TRACKING_URI, else "
         "the embedded store mlruns/mlflow.db in the working folder.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """AI Risk Harness: assess AI tools for bias and risk before the City uses them (policy 4.2)."""


def _progress(console: Console) -> tuple[Any, Callable[[str], None]]:
    status = console.status("starting", spinner="dots")

    def say(msg: str) -> None:
        status.update(msg)

    return status, say


@main.command()
@click.argument("tool_yaml", type=click.Path(dir_okay=False))
@click.option("--dataset", "datasets", multiple=True,
              help="Catalogue name (see `harness datasets list`) or path to a card.yaml. Repeatable. Required "
                   "unless --plan names them.")
@click.option("--suite", "suites", multiple=True, help="Suite to run (repeatable). Default: the policy's "
              "required suites for the tool's category.")
@click.option("--policy", "policy", type=click.Path(dir_okay=False), default=None,
              help="Policy YAML. Default: the policy shipped with the harness.")
@click.option("--current", type=click.Path(dir_okay=False), default=None,
              help="A current data sample, for drift checks (used by the degradation suite).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, envvar="HARNESS_DATA_DIR",
              help="Folder holding dataset files that are not next to their card (a mirror).")
@click.option("--seed", type=int, default=None, help="Seed for the bootstrap. Default: the policy's.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the reports. Default: reports/<tool id>/<run id>/.")
@click.option("--by", "by", default=None, envvar="HARNESS_USER",
              help="Who starts the assessment (recorded; may not approve it, policy 2.3). Default: "
                   "$HARNESS_USER, else the login name.")
@click.option("--plan", "plan_id", default=None,
              help="Hold the assessment to a plan made with `harness plan` (policy 4.2): inputs not given are "
                   "taken from it; any that differ stop the run (exit 2) with every difference listed.")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Ask a chat endpoint (adapter kind openai) every question afresh: no cached answer is read or "
                   "written. The report says how many answers came from the cache.")
@tracking_option
@handle_errors
def assess(tool_yaml: str, datasets: tuple[str, ...], suites: tuple[str, ...], policy: str | None,
           current: str | None, data_dir: str | None, seed: int | None, out: str | None,
           by: str | None, plan_id: str | None, no_cache: bool, tracking_uri: str | None) -> None:
    """Assess the tool described by TOOL_YAML against reference datasets and record the evidence.

    Exit codes: 0 PASS, 1 FAIL, 2 bad input, 3 NEEDS_REVIEW, 4 ERROR.
    """
    from harness.pipeline import run_assessment

    console = _console()
    status, say = _progress(_console(stderr=True))
    with status:
        rec = run_assessment(tool_yaml, list(datasets), suites=list(suites) or None, policy_path=policy,
                             tracking_uri=tracking_uri, data_dir=data_dir, seed=seed, out=out, progress=say,
                             current=current, submitter=by, plan=plan_id, use_cache=not no_cache)
    from harness.console import print_verdicts

    print_verdicts(console, [rec.result])
    console.print(f"run {rec.result.run_id} in {rec.tracking_uri}")
    console.print(f"reports: {rec.out_dir / 'report.html'}")
    sys.exit(rec.result.exit_code)


@main.command()
@click.option("--out", type=click.Path(file_okay=False), default="reports/demo", show_default=True)
@tracking_option
@handle_errors
def demo(out: str, tracking_uri: str | None) -> None:
    """Assess four bundled tools (two rental screeners, two 311 question answerers) on bundled data, then
    approve the passing screener and show the failing one blocked at the gate."""
    from harness.demo import run_demo

    console = _console()
    sys.exit(run_demo(console, Path(out), tracking_uri))


@main.command()
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write. Default: print to standard output.")
@tracking_option
@handle_errors
def report(run_id: str, fmt: str, out: str | None, tracking_uri: str | None) -> None:
    """Re-render the report of a recorded assessment from its logged assessment.json."""
    from harness.assessment import AssessmentResult
    from harness.report import render
    from harness.tracking import Store, load_assessment

    text = render(AssessmentResult.from_dict(load_assessment(Store.open(tracking_uri), run_id)), fmt)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        _console().print(f"wrote {out}")
    else:
        click.echo(text, nl=False)


@main.group()
def suites() -> None:
    """Installed test suites."""


@suites.command("list")
@handle_errors
def suites_list() -> None:
    """List the suites registered through the `harness.suites` entry points."""
    from rich.table import Table

    from harness.registry import load_suites

    table = Table(title="Installed suites")
    for col in ("name", "version", "tasks", "description"):
        table.add_column(col, overflow="fold")
    for name, cls in load_suites().items():
        table.add_row(name, cls.version, ", ".join(cls.tasks), cls.description)
    _console().print(table)


@main.group()
def datasets() -> None:
    """Reference datasets in the catalogue."""


@datasets.command("list")
@handle_errors
def datasets_list() -> None:
    """List the dataset cards of the catalogue (./datasets, the harness's own, $HARNESS_CATALOG)."""
    from rich.table import Table

    from harness.datasets import list_cards, load_card

    table = Table(title="Reference datasets")
    for col in ("name", "version", "task", "protected attributes", "file", "card"):
        table.add_column(col, overflow="fold")
    for path in list_cards():
        card = load_card(path)
        here = "present" if (path.parent / card.file).is_file() else "needs --data-dir"
        table.add_row(card.name, card.version, card.task, ", ".join(card.protected_attributes),
                      f"{card.file} ({here})", str(path))
    _console().print(table)


@datasets.command("show")
@click.argument("name")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, envvar="HARNESS_DATA_DIR")
@handle_errors
def datasets_show(name: str, data_dir: str | None) -> None:
    """Show a dataset's card and, when its file is available, verify it and summarise its groups."""
    from harness.datasets import find_card, load_card, load_dataset

    console = _console()
    path = find_card(name)
    card = load_card(path)
    console.print(f"[bold]{card.name}[/] {card.version}  ({path})")
    rows: list[tuple[str, str]] = [("task", card.task), ("source", card.source), ("license", card.license),
                                   ("file", card.file), ("sha256", card.sha256)]
    if card.target is not None:
        rows.append(("target", f"{card.target.column} (positive {card.target.positive!r}, favourable "
                               f"{card.target.favorable_value!r})"))
    rows.append(("id column", card.id_column or "row number"))
    if card.features:
        rows.append(("features", ", ".join(card.features)))
    for label, value in rows:
        console.print(f"  {label:>10}: {value}")
    for attr, p in card.protected_attributes.items():
        console.print(f"  protected: {attr} (reference {p.reference!r})")
    if card.description:
        console.print(f"\n{card.description.strip()}")
    try:
        ds = load_dataset(name, data_dir)
    except HarnessError as e:
        console.print(f"\n[yellow]data not loaded:[/] {e}")
        return
    if card.target is None:
        line = f"\nverified sha256; {len(ds.frame):,} items"
        if "answerable" in ds.frame.columns and len(ds.frame):
            answerable = ds.frame["answerable"].astype(bool)
            line += f"; {answerable.mean():.1%} answerable ({int((~answerable).sum()):,} unanswerable)"
        console.print(line)
        return
    y = ds.y_favorable
    console.print(f"\nverified sha256; {len(ds.frame):,} rows; favourable outcome rate {y.mean():.1%}")
    for attr in card.protected_attributes:
        col = ds.frame[attr].astype(str)
        parts = [f"{g} {int((col == g).sum()):,} ({y[(col == g).to_numpy()].mean():.1%})"
                 for g in col.value_counts().index]
        console.print(f"  {attr}: " + "; ".join(parts))

import harness.cli_gate  # noqa: E402  (registers status/history/approve/.../gate/inventory/due)
import harness.cli_register  # noqa: E402, F401  (registers `harness register export`, `harness records export`)
from harness import (  # noqa: E402
    cli_access,  # noqa: F401  (registers `harness access open`)
    cli_keys,  # noqa: F401  (registers `harness keys init` and `harness keys show`)
    cli_plan,  # noqa: F401  (registers `harness plan` and `harness reassess`)
    cli_policy,  # noqa: F401  (registers `harness policy check`)
    cli_submit,  # noqa: F401  (registers `harness submit` on `main`)
)

if __name__ == "__main__":  # pragma: no cover
    main()
