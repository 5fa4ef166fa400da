"""`harness submit BUNDLE`: a vendor's submission, validated, kept in MLflow and registered as `submitted`
(issue 6, "Vendors submit"; policy 4.2: every new tool is assessed before approval, 3.2: keep the record).

Added to the group by `harness.cli.app`. Nothing in the bundle is run:
validation reads files only; models that run code on load are loaded later, by an assessment, and only in
the sandboxed worker.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from harness.cli.common import handle_errors, person_option, tracking_option

if TYPE_CHECKING:
    from rich.console import Console

    from harness.manifest import ToolManifest
    from harness.policy import Policy


@click.command("submit")
@click.argument("bundle", type=click.Path())
@person_option("--submitter", "Who submits (a name or e-mail). Recorded with the version; that person cannot "
               "approve it (separation of duties, policy 4.1).", "submits")
@tracking_option
@handle_errors
def submit(bundle: str, submitter: str | None, tracking_uri: str | None) -> None:
    """Validate the submission BUNDLE (a folder or a .zip), log its files to MLflow and register the tool
    version as `submitted`.

    BUNDLE holds tool.yaml (with the disclosure fields), the model or its outputs as the adapter names
    them, and optionally evidence/. Every problem is listed at once. Exit codes: 0 registered, 2 bad
    bundle or store.
    """
    from harness.cli.console import make_console
    from harness.errors import ConfigError, GateError
    from harness.gate import register_version
    from harness.tracking import Store, check_reachable
    from harness.tracking.artifacts import log_submission, mark_submission_refused
    from harness.workflows.bundle import validate_bundle

    console = make_console()
    store = Store.open(tracking_uri, reach=False)  # reached once the bundle is known to be valid
    uri = store.uri
    with validate_bundle(bundle) as b:
        m = b.manifest
        from harness.gate.identity import acting, server_user

        if server_user(uri) is not None:  # the vendor's own login on the City's server (issue 12)
            who = acting(uri, submitter, "submitter", f"submission of {m.id} {m.version}").name
        else:
            who = (submitter if submitter is not None else m.vendor).strip()
        if not who:
            raise ConfigError("--submitter is empty: name the person who answers for this submission (policy 2.3)")
        console.print(f"bundle {bundle}: valid; {len(b.files)} file(s), {len(b.evidence)} of them vendor evidence",
                      soft_wrap=True)
        check_reachable(uri)
        from harness.gate import is_registered
        from harness.gate.policies import in_force
        from harness.tiering import require_tier

        # the tier its impact answers set, under the policy assessments will judge it by (issue 16): refused
        # before anything is logged; a version registered before questionnaires existed keeps its declared tier
        policy = in_force(uri).policy
        require_tier(m, policy, f"tool manifest {b.manifest_path.name} in bundle {bundle}",
                     recorded=lambda: is_registered(uri, m.id, str(m.version)))
        _endpoint_notes(make_console(stderr=True), m, policy)
        run_id = log_submission(store, m.id, m.version, b.root, b.files, submitter=who,
                                archive_sha256=b.archive_sha256, source=str(bundle))
        try:
            ref = register_version(uri, m, b.manifest_path, submitter=who, files=b.files, source_run=run_id,
                                   resubmit=True)
        except GateError as e:
            mark_submission_refused(store, run_id, str(e))
            raise
    again = "" if ref.created else " (already registered with this manifest; files logged again)"
    console.print(f"registered {ref.tool} {ref.version} as submitted by {ref.submitter}{again}: model version "
                  f"{ref.model_version}, submission run {run_id}, manifest sha256 {ref.manifest_digest[:12]}",
                  soft_wrap=True)
    console.print(f"next: DTI assesses it (harness assess); a reviewer other than {ref.submitter} decides "
                  f"(policy 4.1, 4.2)", soft_wrap=True)


def _endpoint_notes(console: Console, manifest: ToolManifest, policy: Policy) -> None:
    """Tell the vendor now, not at the assessment, when the endpoint their manifest names breaks an endpoint rule of
    the policy in force (policy 1.3, 1.4): a host off `settings.endpoints.allowed_hosts`, or no TLS. Submitting
    sends nothing to it, so the version is still registered; every assessment refuses it (exit 2) until DTI adds
    the host, or the vendor submits a version with another endpoint."""
    from harness.tools.endpoint import allowed_hosts, endpoint_field, endpoint_problems

    found = endpoint_field(manifest.adapter)
    if found is not None:
        name, url = found
        for p in endpoint_problems(url, allowed_hosts(policy)):
            console.print(f"note: adapter.{name}: {p.message}. The version is registered; every assessment refuses "
                          "it until this is resolved", soft_wrap=True)


COMMANDS: tuple[click.Command, ...] = (submit,)
"""What `harness.cli.app` adds to the group."""
