"""`harness access open TOOL`: an MLflow administrator opens a tool's records on the City's shared tracking
server and grants each person the permissions their role calls for (harness.tracking.access; issue 12).

Added to the group by `harness.cli.app`.
"""
from __future__ import annotations

import click

from harness.cli.common import handle_errors, tracking_option


@click.group("access")
def access_group() -> None:
    """Permissions on the City's shared tracking server (policy 2.3, 4.1)."""


@access_group.command("open")
@click.argument("tool")
@tracking_option
@handle_errors
def access_open_cmd(tool: str, tracking_uri: str | None) -> None:
    """Create TOOL's experiments and registered models on the server and grant every person the policy in force
    names in settings.gate.roles what their role calls for (vendors: their submissions only). Run it as an MLflow
    administrator before the vendor submits; run it again after the roles change."""
    from harness.tracking import Store
    from harness.tracking.access import open_tool

    for g in open_tool(Store.open(tracking_uri, reach=False), tool):
        click.echo(f"{g.user} ({g.role}): {g.permission} on {g.kind.replace('_', ' ')} {g.name}")


COMMANDS: tuple[click.Command, ...] = (access_group,)
"""What `harness.cli.app` adds to the group."""
