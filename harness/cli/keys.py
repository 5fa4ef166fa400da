"""`harness keys init` and `harness keys show`: the installation's signing key (harness.gate.signing).

Added to the group by `harness.cli.app`. The private key never leaves
the file it is made in (mode 0600); what these commands print is the public half, which another installation
lists in `HARNESS_TRUSTED_KEYS` and auditors compare with the one an export publishes.
"""
from __future__ import annotations

import click

from harness.cli.common import handle_errors


@click.group("keys")
def keys_group() -> None:
    """The key that signs this installation's decision records (policy 3.2)."""


def _describe(signer: object) -> str:
    from harness.gate.signing import Signer, public_text

    assert isinstance(signer, Signer)
    return (f"signing key: {signer.path}\nfingerprint: {signer.fingerprint}\npublic key:  {public_text(signer.public)}")


@keys_group.command("init")
@handle_errors
def keys_init_cmd() -> None:
    """Create the signing key at $HARNESS_SIGNING_KEY (default ~/.config/harness/signing.key), mode 0600.
    Refused when one exists: the records it signed are verified with it."""
    from harness.gate.signing import init_key

    click.echo(_describe(init_key()))


@keys_group.command("show")
@handle_errors
def keys_show_cmd() -> None:
    """Print where the key is, its fingerprint and its public half (exit 2 when there is none)."""
    from harness.gate.signing import load_signer

    click.echo(_describe(load_signer(create=False)))


COMMANDS: tuple[click.Command, ...] = (keys_group,)
"""What `harness.cli.app` adds to the group."""
