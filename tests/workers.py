"""What tests run in spawned processes (multiprocessing's "spawn"), kept in a module of light imports: a spawned
process starts a new interpreter and imports the module of the function it is given, so a function defined in a
test module would first import that module's whole world (the assessment pipeline, pandas, scikit-learn) in every
process, seconds each."""
from __future__ import annotations

import os


def first_key(path: str) -> str:
    """The fingerprint of the installation's signing key at `path`, made by this process if none exists yet."""
    os.environ["HARNESS_SIGNING_KEY"] = path
    from harness.gate.signing import load_signer

    return load_signer().fingerprint


def register_many(args: tuple[str, list[str]]) -> list[int]:
    """Register each manifest of `args` (store URI, manifest paths) as vendor-co; their model versions."""
    from harness import gate
    from harness.manifest import load_manifest

    uri, paths = args
    return [gate.register_version(uri, load_manifest(p), p, submitter="vendor-co").model_version for p in paths]
