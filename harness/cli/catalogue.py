"""`harness suites list`, `harness datasets list` and `harness datasets show`: what is installed and what the
catalogue holds.

`suites list` and `datasets list` are what people run to find their way, so they answer at once: they read the
suite classes and the cards (YAML) and import none of mlflow, Great Expectations, fairlearn, aif360 or
matplotlib (tests/test_cli_imports.py). `datasets show` loads the data file, so it may import pandas.
"""
from __future__ import annotations

import click

from harness.cli.common import data_dir_option, handle_errors
from harness.errors import HarnessError


@click.group("suites")
def suites() -> None:
    """Installed test suites."""


@suites.command("list")
@handle_errors
def suites_list() -> None:
    """List the suites registered through the `harness.suites` entry points."""
    from rich.table import Table

    from harness.cli.console import make_console
    from harness.plugins import load_suites

    table = Table(title="Installed suites")
    for col in ("name", "version", "tasks", "description"):
        table.add_column(col, overflow="fold")
    for name, cls in load_suites().items():
        table.add_row(name, cls.version, ", ".join(cls.tasks), cls.description)
    make_console().print(table)


@click.group("datasets")
def datasets() -> None:
    """Reference datasets in the catalogue."""


@datasets.command("list")
@handle_errors
def datasets_list() -> None:
    """List the dataset cards of the catalogue (./datasets, the harness's own, $HARNESS_CATALOG)."""
    from rich.table import Table

    from harness.cli.console import make_console
    from harness.datasets import list_cards, load_card

    table = Table(title="Reference datasets")
    for col in ("name", "version", "task", "protected attributes", "file", "card"):
        table.add_column(col, overflow="fold")
    for path in list_cards():
        card = load_card(path)
        here = "present" if (path.parent / card.file).is_file() else "needs --data-dir"
        table.add_row(card.name, card.version, card.task, ", ".join(card.protected_attributes),
                      f"{card.file} ({here})", str(path))
    make_console().print(table)


@datasets.command("show")
@click.argument("name")
@data_dir_option
@handle_errors
def datasets_show(name: str, data_dir: str | None) -> None:
    """Show a dataset's card and, when its file is available, verify it and summarise its groups."""
    from harness.cli.console import make_console
    from harness.datasets import find_card, load_card, load_dataset

    console = make_console()
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


COMMANDS: tuple[click.Command, ...] = (suites, datasets)
"""What `harness.cli.app` adds to the group."""
