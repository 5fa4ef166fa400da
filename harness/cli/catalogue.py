"""`harness suites list`, `harness datasets list` and `harness datasets show`: what is installed and what the
catalogue holds; `harness datasets export-inputs` (what a vendor is given to score) and `harness datasets draft`
(a card measured from a CSV, for the analyst to finish), issue 15, section 5.

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
        try:
            card = load_card(path)
        except HarnessError as e:  # a draft or a broken card is listed as such; the rest of the catalogue still shows
            table.add_row(path.parent.name, "", "not usable", "", str(e).split(":", 1)[-1].strip(), str(path))
            continue
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
    from harness.tools.labels import label_space

    y = ds.y_favorable
    console.print(f"\nverified sha256; {len(ds.frame):,} rows; favourable outcome rate {y.mean():.1%}")
    console.print(f"a tool outputs one of {label_space(ds)!r} per row", markup=False)
    for attr in card.protected_attributes:
        col = ds.frame[attr].astype(str)
        parts = [f"{g} {int((col == g).sum()):,} ({y[(col == g).to_numpy()].mean():.1%})"
                 for g in col.value_counts().index]
        console.print(f"  {attr}: " + "; ".join(parts))


@datasets.command("export-inputs")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="File to write: .csv, or .jsonl (one JSON object per line).")
@data_dir_option
@handle_errors
def datasets_export_inputs(name: str, out: str, data_dir: str | None) -> None:
    """Write what a tool may read of dataset NAME, for a vendor to score: the ids and the card's features (for a
    question-answering dataset: id, context, question), never the target, the answers or a protected attribute
    the card does not give tools."""
    from harness.cli.console import make_console
    from harness.workflows.vendor_inputs import export_inputs

    console = make_console()

    def say(line: str) -> None:  # the data's names and values are not rich markup
        console.print(line, markup=False)

    done = export_inputs(name, out, data_dir)
    inputs = done.inputs
    readable = [c for c in inputs.columns if c != inputs.id_column]
    say(f"wrote {done.rows:,} rows to {done.path} (sha256 {done.sha256}): the id column "
                  f"{inputs.id_column!r} and {', '.join(readable)}")
    if inputs.protected_given:
        say(f"  the card gives tools the protected attribute(s) {', '.join(inputs.protected_given)}")
    for column, why in inputs.left_out.items():
        say(f"  left out {column}: {why}")
    if done.target is None:
        say("a tool answers each item: one JSON object per line, {\"id\": ..., \"answer\": \"...\"} "
                      "(adapter kind responses; an empty answer is an abstention)")
    else:
        say(f"a tool outputs, per {inputs.id_column}, one label of {done.target!r}: one of "
                      f"{done.labels!r} (adapter kind predictions, id_column: {inputs.id_column}; other values "
                      f"need adapter.label_map)")


@datasets.command("draft")
@click.argument("csv", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The card to write (card.yaml).")
@click.option("--name", default=None, help="The dataset's catalogue name. Default: from the file's name.")
@click.option("--separator", default=",", show_default=True, help="The CSV's field separator.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@handle_errors
def datasets_draft(csv: str, out: str, name: str | None, separator: str, force: bool) -> None:
    """Draft a card for CSV: its sha256, row count and a spec of every column, measured; the target, protected
    attributes, licence, source, version and description left as TODO for the analyst, and refused by every
    command until they are filled in."""
    from harness.cli.console import make_console
    from harness.workflows.card_draft import write_draft

    drafted = write_draft(csv, out, name=name, separator=separator, force=force)
    console = make_console()
    console.print(f"wrote {drafted.path}: {drafted.rows:,} rows, {drafted.columns} columns, sha256 {drafted.sha256}",
                  soft_wrap=True)
    console.print(f"fill in its {len(drafted.todo)} TODO fields ({', '.join(drafted.todo)}) and check the features; "
                  "until then every command refuses the card")


COMMANDS: tuple[click.Command, ...] = (suites, datasets)
"""What `harness.cli.app` adds to the group."""
