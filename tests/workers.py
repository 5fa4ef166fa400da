"""What tests run in spawned processes (multiprocessing's "spawn"), kept in a module of light imports: a spawned
process starts a new interpreter and imports the module of the function it is given, so a function defined in a
test module would first import that module's whole world (the assessment pipeline, pandas, scikit-learn) in every
process, seconds each. Tests of processes racing on a store start them from `forked()` instead."""
from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

# imported once, in the fork server, before any process of `forked()` starts
PRELOAD = ("harness.workflows.assess", "harness.gate", "harness.tracking.registry",
           "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
           "great_expectations", "sklearn", "fairlearn.metrics", "test_suites.bias", "test_suites.performance",
           "test_suites.data_quality.expectations", "test_suites.degradation", "test_suites.explainability",
           "tests.conftest", "tests.workers")


def forked() -> BaseContext:
    """multiprocessing's "forkserver", for tests of processes that race on a store: the harness, MLflow and the
    suites (`PRELOAD`) are imported once, in the fork server (an interpreter with no other thread, so forking it is
    safe), and each process is a fork of it rather than a new interpreter importing them again (2 s per process,
    6 s before a first assessment). Each is still a process of its own, with the working folder and sys.path of the
    test when its pool starts, but the environment of the test process when the fork server started (its first
    pool in this test process): pass what differs as arguments."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


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


_TOGETHER: Any = None


def _meet_at(barrier: Any) -> None:
    global _TOGETHER
    _TOGETHER = barrier


def _harness_together(args: list[str], env: dict[str, str | None], cwd: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from harness.cli import main

    _TOGETHER.wait(timeout=120)
    os.chdir(cwd)
    r = CliRunner().invoke(main, args, env=env, prog_name="harness")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def harness_at_once(calls: list[tuple[list[str], dict[str, str | None], Path]]) -> list[tuple[int, str, str]]:
    """Several `harness` commands at once, each in a process of its own (`forked`), started together at a barrier:
    each call is (ARGS, changes to the environment (None: unset), working folder); returns each one's exit code,
    stdout and stderr, in order. What the commands race on is the store, not the interpreter's start."""
    from concurrent.futures import ProcessPoolExecutor

    ctx = forked()
    with ProcessPoolExecutor(len(calls), mp_context=ctx, initializer=_meet_at,
                             initargs=(ctx.Barrier(len(calls)),)) as pool:
        futures = [pool.submit(_harness_together, list(args), env, str(cwd)) for args, env, cwd in calls]
        return [f.result(timeout=900) for f in futures]
