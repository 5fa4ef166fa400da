"""The chatbot answer cache is bound to the tool version it answered for (issue 11, section 1; policy 4.2, 4.3).

Attacks tried, each against a real chat-completions server on loopback and a real SQLite MLflow store:
- the vendor ships 0.5.0 behind the URL 0.4.0 used: 0.5.0 must be asked, not handed 0.4.0's answers;
- an approved chatbot starts inventing fees and phone numbers: `reassess --due` from the folder it was
  assessed in must ask it again (and suspend it), not replay the answers cached at approval;
- `assess --no-cache` asks every question again, and the report says how many answers the cache supplied;
- the endpoint's own model list is recorded, or why it could not be asked."""
from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness import gate
from harness.cli import main
from harness.manifest import load_manifest
from harness.testing import ChatServer
from harness.tools import load_tool
from harness.tools.openai import CACHE_FORMAT, OpenAITool, cache_key, chat_messages, endpoint_facts
from harness.verdict import Verdict
from harness.workflows.assess import run_assessment
from tests.conftest import MANIFEST, single_user

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT / "datasets" / "city-services-qa"
N_ITEMS = 20
INVENTED = "The permit fee is $975 and the office phone number is 555-0199."
KEY = "sk-models-3b9d2e7a"
REPEATS = 3  # the default policy's consistency_repeats


def qa_case(folder: Path, n: int = N_ITEMS) -> tuple[Path, dict[tuple[str, str], str], int]:
    """The first `n` items of city-services-qa as their own dataset (card with its sha256), the answers a
    faithful chatbot gives (the reference answer, else "I don't know"), and how many answers the
    hallucination suite asks for: every question and every paraphrase once, and every question again
    `consistency_repeats` (3, the default policy) times, since its sample of 50 takes all of them."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (QA / "items.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    digest = hashlib.sha256((folder / "items.jsonl").read_bytes()).hexdigest()
    card = (QA / "card.yaml").read_text(encoding="utf-8")
    card = re.sub(r"(?m)^sha256: \w+$", f"sha256: {digest}", card)
    card = card.replace("name: city-services-qa", "name: qa-first-20").replace("min_rows: 276", f"min_rows: {n}")
    (folder / "card.yaml").write_text(card, encoding="utf-8")
    table: dict[tuple[str, str], str] = {}
    for item in map(json.loads, lines):
        for question in (item["question"], *item["paraphrases"]):
            table[(item["context"], question)] = item["answers"][0] if item["answerable"] else "I don't know"
    return folder / "card.yaml", table, len(table) + REPEATS * n


def faithful(table: dict[tuple[str, str], str]):
    return lambda context, question: table.get((context, question), "I don't know")


def invents(context: str, question: str) -> str:
    """The vendor's new release: a fee and a phone number that no page states, for every question."""
    return INVENTED


def write_tool(folder: Path, version: str, base_url: str, tool_id: str = "city-chat", adapter: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "tool.yaml"
    p.write_text(MANIFEST.format(id=tool_id).replace('version: "1.0"', f'version: "{version}"')
                 .replace("category: decision-support", "category: generative")
                 + f"adapter:\n  kind: openai\n  base_url: {base_url}\n  model: city-chat-large\n  backoff_s: 0\n"
                 + adapter)
    return p


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.json"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the key ---------------------------------------------------------------------------------------------


def test_the_key_holds_the_tool_its_version_and_its_manifest(tmp_path: Path) -> None:
    msgs = chat_messages("c", "q")
    url = "http://127.0.0.1:8000/v1"
    old = load_manifest(write_tool(tmp_path / "a", "0.4.0", url))
    new = load_manifest(write_tool(tmp_path / "b", "0.5.0", url))
    other = load_manifest(write_tool(tmp_path / "c", "0.4.0", url, tool_id="other-chat"))
    reworded = old.model_copy(update={"intended_use": "Answers residents."})  # same id and version, edited
    ids = {name: m.identity() for name, m in
           {"old": old, "new": new, "other": other, "reworded": reworded}.items()}
    canonical = json.dumps(old.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert ids["old"] == {"tool": "city-chat", "version": "0.4.0",
                          "manifest_sha256": hashlib.sha256(canonical.encode()).hexdigest()}
    # the manifest is hashed from its content, not its folder: the same tool.yaml elsewhere is the same tool
    assert load_manifest(write_tool(tmp_path / "elsewhere", "0.4.0", url)).identity() == ids["old"]
    keys = {name: cache_key(url, "m", msgs, 0.0, 256, 0, identity=i) for name, i in ids.items()}
    assert len(set(keys.values())) == 4  # a new version, another tool, a changed manifest: never the same answer
    assert CACHE_FORMAT == 2  # entries written under the old key (endpoint, model, prompt) are never read again


def test_cache_stats_count_every_answer_of_the_run_and_where_it_came_from(tmp_path: Path) -> None:
    import pandas as pd

    items = pd.DataFrame({"id": ["a", "b", "c"], "context": ["p1", "p2", "p3"], "question": ["q1?", "q2?", "q3?"]})
    with ChatServer(lambda c, q: f"{c}: {q}") as url:
        manifest = load_manifest(write_tool(tmp_path, "1.0", url, adapter="  cache_dir: cache\n"))
        first = load_tool(manifest)
        assert isinstance(first, OpenAITool)
        assert first.cache_stats == {"answers": 0, "from_cache": 0, "cache": "on"}
        first.generate(items.iloc[:2])
        assert first.cache_stats == {"answers": 2, "from_cache": 0, "cache": "on"}
        first.generate(items)  # two of three were answered before
        assert first.cache_stats == {"answers": 5, "from_cache": 2, "cache": "on"}
        off = load_tool(manifest, use_cache=False)
        assert off.generate(items).answers == ["p1: q1?", "p2: q2?", "p3: q3?"]
        assert off.cache_stats == {"answers": 3, "from_cache": 0, "cache": "off"}
        assert off.exchange("p1", "q1?") is None  # no cache, no replayed exchange either
        entry = first.exchange("p1", "q1?")
    assert entry is not None and entry["identity"] == manifest.identity()


# -- attack: a new version behind the same URL -----------------------------------------------------------


@pytest.mark.slow
def test_a_new_version_on_the_same_endpoint_is_asked_and_not_given_the_old_versions_answers(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    card, table, n = qa_case(tmp_path / "data")
    server = ChatServer(faithful(table))
    with server as url:
        v4 = write_tool(tmp_path / "chatbot", "0.4.0", url, adapter="  cache_dir: cache\n")
        old = run_assessment(v4, [str(card)], suites=["hallucination"], tracking_uri=uri, out=tmp_path / "out-0.4.0",
                             submitter="dana")
        assert old.result.verdict is Verdict.NEEDS_REVIEW, old.result.reasons
        assert server.chat_requests == len(cache_files(tmp_path / "chatbot" / "cache")) == n

        server.answer = invents  # the vendor deploys 0.5.0 behind the same URL, under the same model name
        v5 = write_tool(tmp_path / "chatbot", "0.5.0", url, adapter="  cache_dir: cache\n")
        new = run_assessment(v5, [str(card)], suites=["hallucination"], tracking_uri=uri,
                             out=tmp_path / "out-0.5.0", submitter="dana")
    assert server.chat_requests == 2 * n  # every question asked of 0.5.0 itself
    assert new.result.verdict is Verdict.FAIL
    assert any(r.startswith(f"hallucination.groundedness.unsupported_claim_rate: {N_ITEMS} of {N_ITEMS} answers "
                            "(100.0%") for r in new.result.reasons), new.result.reasons
    assert len(cache_files(tmp_path / "chatbot" / "cache")) == 2 * n  # 0.4.0's entries are kept, not reused
    assert old.result.extra["cache"] == new.result.extra["cache"] == {"answers": n, "from_cache": 0, "cache": "on"}


# -- attack: an approved chatbot that now invents facts, re-assessed from the same folder -----------------


@pytest.mark.slow
def test_reassess_asks_the_endpoint_again_and_suspends_a_chatbot_that_now_invents_facts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    single_user(uri, tmp_path)
    card, table, _ = qa_case(tmp_path / "data")
    folder = tmp_path / "chatbot"
    server = ChatServer(faithful(table))
    with server as url:
        tool = write_tool(folder, "1.0", url)  # no cache_dir: the default, ./.harness/cache/openai
        monkeypatch.chdir(folder)
        rec = run_assessment(tool, [str(card)], tracking_uri=uri, out=tmp_path / "approved", submitter="dana")
        assert rec.result.verdict is Verdict.NEEDS_REVIEW, rec.result.reasons
        gate.approve(uri, "city-chat", "1.0", run_id=str(rec.result.run_id), reviewer="omar",
                     rationale="answers from the page or abstains")
        asked = server.chat_requests  # the hallucination, privacy and bias suites' questions, each once
        cached = cache_files(folder / ".harness" / "cache" / "openai")
        assert len(cached) == asked > 0

        server.answer = invents
        server.reset_counts()
        as_of = (datetime.now(UTC) + timedelta(days=91)).date().isoformat()
        r = CliRunner().invoke(main, ["reassess", "--due", "--as-of", as_of, "--by", "cron", "--format", "json",
                                      "--out", str(tmp_path / "re"), "--tracking-uri", uri])
    assert r.exit_code == 1, r.output
    [outcome] = json.loads(r.stdout)
    assert (outcome["tool"], outcome["verdict"], outcome["approval"]) == ("city-chat", "FAIL",
                                                                          "suspended: the gate is closed")
    assert server.chat_requests == asked  # every answer asked afresh; none replayed from the approval's cache
    [report] = (tmp_path / "re" / "city-chat").glob("1.0-*/assessment.json")
    result = json.loads(report.read_text())
    # 9 of the first 20 questions cannot be answered from their page: the new release answers them all
    assert result["reasons"][0].startswith("hallucination.abstention.hallucination_rate: The tool answered 9 of 9 "
                                           "questions that its context cannot answer (100.0%")
    assert cache_files(folder / ".harness" / "cache" / "openai") == cached  # nor written: the cache is untouched
    assert not gate.gate(uri, "city-chat").open
    assert rec.result.extra["cache"] == {"answers": asked, "from_cache": 0, "cache": "on"}
    assert result["extra"]["cache"] == {"answers": asked, "from_cache": 0, "cache": "off"}


# -- `assess --no-cache` and the report ------------------------------------------------------------------


@pytest.mark.slow
def test_assess_no_cache_asks_every_question_and_the_report_counts_cached_answers(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    card, table, n = qa_case(tmp_path / "data")
    server = ChatServer(faithful(table))
    runner = CliRunner()

    def assess(out: str, *more: str) -> dict[str, Any]:
        r = runner.invoke(main, ["assess", str(tool), "--dataset", str(card), "--suite", "hallucination",
                                 "--by", "dana", "--tracking-uri", uri, "--out", str(tmp_path / out), *more])
        assert r.exit_code == 3, r.output  # NEEDS_REVIEW
        return json.loads((tmp_path / out / "assessment.json").read_text())

    with server as url:
        tool = write_tool(tmp_path / "chatbot", "1.0", url, adapter="  cache_dir: cache\n")
        first = assess("first")
        assert server.chat_requests == n
        fresh = assess("fresh", "--no-cache")
        assert server.chat_requests == 2 * n
        cached = assess("cached")
        assert server.chat_requests == 2 * n
    assert first["extra"]["cache"] == {"answers": n, "from_cache": 0, "cache": "on"}
    assert fresh["extra"]["cache"] == {"answers": n, "from_cache": 0, "cache": "off"}
    assert cached["extra"]["cache"] == {"answers": n, "from_cache": n, "cache": "on"}
    md = {k: (tmp_path / k / "report.md").read_text() for k in ("first", "fresh", "cached")}
    html = (tmp_path / "cached" / "report.html").read_text()
    assert f"- **Answers:** 0 of {n} answers came from the answer cache\n" in md["first"]
    assert f"- **Answers:** all {n} answers were asked afresh (cache off)\n" in md["fresh"]
    assert f"- **Answers:** {n} of {n} answers came from the answer cache\n" in md["cached"]
    assert f"<dt>Answers</dt>\n    <dd>{n} of {n} answers came from the answer cache</dd>" in html


def test_the_report_says_where_the_answers_came_from_and_is_silent_for_a_tool_without_a_cache() -> None:
    from harness.assessment import AssessmentResult
    from harness.report import render

    def answers_line(extra: dict[str, Any]) -> list[str]:
        result = AssessmentResult(tool={"id": "t", "name": "T"}, policy={}, datasets=[], suites=(),
                                  verdict=Verdict.PASS, reasons=[], seed=0, extra=extra)
        return [line for line in render(result, "md").splitlines() if line.startswith("- **Answers:**")]

    assert answers_line({}) == []  # a classifier or a file of outputs: no answer cache to speak of
    assert answers_line({"cache": {"answers": 1380, "from_cache": 276, "cache": "on"}}) == [
        "- **Answers:** 276 of 1,380 answers came from the answer cache"]
    assert answers_line({"cache": {"answers": 1380, "from_cache": 0, "cache": "off"}}) == [
        "- **Answers:** all 1,380 answers were asked afresh (cache off)"]


# -- the endpoint's own model list -----------------------------------------------------------------------


class _Models(BaseHTTPRequestHandler):
    """A server that lists several models, out of order, as vLLM does for a multi-model deployment."""

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "city-chat-small"}, {"id": "city-chat-large"},
                                                      {"id": "embed-v2"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listing() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_endpoint_facts_name_the_models_the_endpoint_reports(tmp_path: Path, listing: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    m = load_manifest(write_tool(tmp_path / "many", "1.0", listing + "/"))
    assert endpoint_facts(m) == {"endpoint.base_url": listing, "endpoint.model": "city-chat-large",
                                 "endpoint.models": "city-chat-large,city-chat-small,embed-v2"}
    # the loopback chat server, behind a key: the key is sent, and never appears in what is recorded
    server = ChatServer(lambda c, q: "", api_key=KEY, model="loopback-7b")
    with server as url:
        keyed = load_manifest(write_tool(tmp_path / "keyed", "1.0", url, adapter="  api_key_env: CHAT_KEY\n"))
        monkeypatch.setenv("CHAT_KEY", KEY)
        assert endpoint_facts(keyed)["endpoint.models"] == "loopback-7b"
        monkeypatch.setenv("CHAT_KEY", "sk-wrong")
        assert endpoint_facts(keyed)["endpoint.models"] == (
            f"not reported: HTTP 401 from {url}/models: Incorrect API key provided.")
    assert server.chat_requests == 0 and server.requests == 2


def test_an_endpoint_that_cannot_be_asked_is_recorded_as_unreachable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    facts = endpoint_facts(load_manifest(write_tool(tmp_path, "1.0", url)))
    assert facts["endpoint.base_url"] == url and facts["endpoint.model"] == "city-chat-large"
    assert re.fullmatch(r"unreachable: ConnectError: \[Errno \d+\] Connection refused", facts["endpoint.models"]), \
        facts["endpoint.models"]
