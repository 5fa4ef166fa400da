"""The program's quick exit (harness/cli/process.py): what an orderly exit must do still happens.

The process tests run the real program: the point is what happens to a process after its command returned.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.cli.process import exit_code

HARNESS = str(Path(sys.executable).with_name("harness"))


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (1, 1), (2, 2), ("stopped: why", 1)])
def test_exit_code_is_pythons(code: object, status: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(code) == status
    assert capsys.readouterr().err == ("stopped: why\n" if isinstance(code, str) else "")


def test_leave_joins_threads_runs_atexit_flushes_and_keeps_the_code(tmp_path: Path) -> None:
    """A thread still writing finishes, an idle pool's thread is told to stop (joined without that, it waited
    forever: a SIGTERM'd `harness reassess` hung), atexit handlers run, buffered output is kept, and the code."""
    script = textwrap.dedent(f"""
        import atexit, sys, threading, time
        from harness.cli.process import leave
        out = {str(tmp_path)!r}
        def slow():
            time.sleep(0.3)
            open(out + "/thread", "w").write("done")
        threading.Thread(target=slow).start()
        from concurrent.futures import ThreadPoolExecutor
        idle = ThreadPoolExecutor(max_workers=1)  # left open, as MLflow leaves its artifact upload pool
        idle.submit(int).result()
        atexit.register(lambda: open(out + "/atexit", "w").write("ran"))
        sys.stdout.write("no newline, still buffered")
        leave(3)
        open(out + "/after", "w").write("must not run")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "no newline, still buffered"
    assert (tmp_path / "thread").read_text() == "done"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "after").exists()


@pytest.mark.parametrize("fast", ["1", "0"])
def test_program_exit_codes_and_output_match_the_in_process_command(fast: str) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    env = {**os.environ, "HARNESS_FAST_EXIT": fast}
    listed = subprocess.run([HARNESS, "suites", "list"], capture_output=True, text=True, timeout=120, env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == CliRunner().invoke(main, ["suites", "list"]).output
    assert "bias" in listed.stdout
    missing = subprocess.run([HARNESS, "datasets", "show", "no-such-dataset"], capture_output=True, text=True,
                             timeout=120, env=env)
    assert missing.returncode == 2
    assert "no-such-dataset" in missing.stderr + missing.stdout
    module = subprocess.run([sys.executable, "-m", "harness", "--version"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert (module.returncode, module.stdout.strip()) == (0, "harness, version 0.1.0")


def test_an_assessment_with_the_worker_leaves_quickly_and_quietly(tmp_path: Path) -> None:
    """The data-only checks' worker is stopped at exit; nothing is printed after the command's own output (the
    worker's tqdm lock once made Python's resource tracker report a leaked semaphore after every run)."""
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run(
        [HARNESS, "assess", str(root / "examples" / "rental_assistance" / "fair_tool.yaml"), "--dataset",
         "rental-assistance", "--suite", "data_quality", "--by", "tester",
         "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HARNESS_BACKGROUND": "1"})
    assert r.returncode in (0, 1), r.stderr
    assert "leaked" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert (tmp_path / "out").is_dir()
