"""Speed of the `openai` adapter (issue 5): 1,000 grounded questions against the loopback chat server.

The server (`harness.testing.ChatServer`, in this process) answers every request after a fixed delay,
standing in for a model's latency. With `concurrency` requests in flight the first run cannot beat
items x delay / concurrency (1000 x 0.05 s / 16 = 3.1 s); the target leaves room for HTTP and JSON
overhead. A re-run is served from the on-disk cache and must make no request at all.

    python benchmarks/bench_generative.py [--items 1000] [--delay 0.05] [--concurrency 16]

Targets: first run < 10 s, cached re-run < 2 s (exit 1 when either is missed, or when the re-run asked
the server anything). The items cycle through city-services-qa, with the question numbered so that
every item has its own cache key.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

FIRST_RUN_TARGET_S = 10.0
CACHED_RUN_TARGET_S = 2.0


def first_sentence(context: str, question: str) -> str:
    """A cheap stand-in for a model: the benchmark measures the adapter, not the answering."""
    return context.split(". ")[0]


def items(n: int) -> pd.DataFrame:
    from harness.datasets import load_dataset

    qa = load_dataset("city-services-qa").frame
    rows = [qa.iloc[i % len(qa)] for i in range(n)]
    return pd.DataFrame({"id": [f"{r['id']}#{i}" for i, r in enumerate(rows)],
                         "context": [r["context"] for r in rows],
                         "question": [f"{r['question']} (#{i})" for i, r in enumerate(rows)]})


def main() -> int:
    from harness.testing import ChatServer
    from harness.tools.openai import OpenAITool

    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    frame = items(args.items)
    bound = args.items * args.delay / args.concurrency
    server = ChatServer(first_sentence, delay_s=args.delay)
    with server as url, tempfile.TemporaryDirectory() as cache:
        tool = OpenAITool(name="bench", base_url=url, model="bench", concurrency=args.concurrency,
                          cache_dir=Path(cache))
        t0 = time.perf_counter()
        first = tool.generate(frame)
        first_s = time.perf_counter() - t0
        asked, in_flight = server.chat_requests, server.max_in_flight
        server.reset_counts()
        t0 = time.perf_counter()
        again = tool.generate(frame)
        cached_s = time.perf_counter() - t0
        rerun_requests = server.requests
    failed = sum(e is not None for e in first.errors or [])
    print(f"{args.items:,} items, {args.delay * 1000:g} ms per answer, concurrency {args.concurrency} "
          f"(lower bound {bound:.2f} s)")
    print(f"  first run : {first_s:6.2f} s  ({asked:,} requests, {failed} failed, "
          f"at most {in_flight} in flight)  target < {FIRST_RUN_TARGET_S:g} s")
    print(f"  cached run: {cached_s:6.2f} s  ({rerun_requests} requests)  target < {CACHED_RUN_TARGET_S:g} s")
    ok = (first_s < FIRST_RUN_TARGET_S and cached_s < CACHED_RUN_TARGET_S and failed == 0
          and rerun_requests == 0 and again.answers == first.answers)
    print("OK" if ok else "MISSED a target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
