"""Issue 14, the endpoint rules (policy 1.3, 1.4; harness/tools/endpoint.py): City data leaves this machine only for
a host on the policy's allow-list, over TLS with a verified certificate, and a vendor who wants data sent elsewhere
cannot get it through a look-alike host, a user name in the URL, a redirect or a certificate of its own making.

The adversary first: every URL below is one a hostile or careless manifest could give. Then the rules where they
are enforced: both network adapters refuse at build time, before anything is sent (the API key included), the
policy's allow-list is validated with its line, and widening it is a recorded weakening."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest

from harness.errors import ConfigError, ToolConfigError, ToolError
from harness.manifest import load_manifest
from harness.policy import load_policy
from harness.testing import ChatServer, Fault, ScoringServer
from harness.tools import load_tool
from harness.tools.endpoint import EndpointProblem, endpoint_problems, is_loopback, require_endpoint
from tests.conftest import MANIFEST

ALLOWED = ["*.example.gov", "scoring.vendor.example"]
KEY = "sk-endpoint-test-5e1d0c9b"


def rules(url: str, allowed: list[str] = ALLOWED) -> list[str]:
    return [p.rule for p in endpoint_problems(url, allowed)]


# --------------------------------------------------------------------------------------------------
# TLS: https for every host but loopback


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/score", "http://127.5.6.7/score", "http://localhost:1/v1", "http://LOCALHOST./v1",
    "http://[::1]:8080/score", "http://[::ffff:127.0.0.1]/score", "https://127.0.0.1/score",
])
def test_loopback_is_always_allowed_over_plain_http(url: str) -> None:
    assert endpoint_problems(url, []) == []


def test_plain_http_to_any_other_host_is_refused_even_when_the_host_is_allowed() -> None:
    assert rules("http://scoring.vendor.example/score") == ["endpoint-tls"]
    assert rules("https://scoring.vendor.example/score") == []
    assert rules("ftp://scoring.vendor.example/score") == ["endpoint-tls"]
    [p] = endpoint_problems("http://a.example.gov/v1", ALLOWED)
    assert p == EndpointProblem("endpoint-tls", (
        "the endpoint host a.example.gov is reached over http://, in clear text; City data leaves this machine only "
        "over TLS: use https:// (plain http:// is allowed for loopback only, whatever "
        "settings.endpoints.allowed_hosts says; policy 1.3, 1.4)"))


@pytest.mark.parametrize("url", ["http://127.1/score", "http://2130706433/score", "http://0.0.0.0/score",
                                 "http://localhost.example.gov/score"])
def test_other_spellings_of_this_machine_are_not_taken_for_loopback(url: str) -> None:
    """`127.1` and `2130706433` do reach 127.0.0.1 through the C resolver, but only the plain forms are recognised:
    anything else is a remote host and needs TLS, which fails closed."""
    assert "endpoint-tls" in rules(url)
    assert not is_loopback(url.split("/")[2])


# --------------------------------------------------------------------------------------------------
# The allow-list, and hosts dressed up as allowed ones


@pytest.mark.parametrize("url", [
    "https://a.example.gov/score", "https://a.b.example.gov/score", "https://A.EXAMPLE.GOV/score",
    "https://a.example.gov./score", "https://scoring.vendor.example:8443/v2/score?model=7",
    "https://SCORING.Vendor.Example./score",
])
def test_hosts_on_the_allow_list_pass_whatever_their_case_port_or_trailing_dot(url: str) -> None:
    assert endpoint_problems(url, ALLOWED) == []


@pytest.mark.parametrize("url", [
    "https://example.gov/score",                   # the apex is not a subdomain: list it to allow it
    "https://evil-example.gov/score",              # ends in example.gov, but is another domain
    "https://example.gov.evil.com/score",          # starts with an allowed name
    "https://a.example.gov.evil.com/score",
    "https://xscoring.vendor.example/score",
    "https://scoring.vendor.example.evil.com/score",
    "https://exаmple.gov/score",                   # a Cyrillic "а": xn--exmple-4nf.gov
    "https://a.exаmple.gov/score",
    "https://evil.com#@a.example.gov/score",       # the fragment hides nothing from the client: host evil.com
    "https://evil.com?@a.example.gov/score",
])
def test_look_alike_hosts_are_refused(url: str) -> None:
    assert rules(url) == ["endpoint-host"]


@pytest.mark.parametrize("url", [
    "https://a.example.gov@evil.com/score",        # goes to evil.com
    "https://user:pw@a.example.gov/score",         # goes where it says, but credentials never go in a URL
    "https://evil.com\\@a.example.gov/score",      # parsers disagree on backslashes: refused for its user part
])
def test_a_user_name_before_the_host_is_refused(url: str) -> None:
    [p] = endpoint_problems(url, ALLOWED)
    assert p.rule == "endpoint-host"
    assert "carries a user name or password before its host (user@host)" in p.message


@pytest.mark.parametrize("url", ["https://a.example.gov%2eevil.com/score", "https://a example.gov/score",
                                 "https:///score", "https://a.example.gov\t.evil.com/score"])
def test_a_host_that_is_not_a_plain_name_is_refused(url: str) -> None:
    assert rules(url) == ["endpoint-host"]


def test_the_host_message_names_the_host_the_allow_list_and_the_fix() -> None:
    [p] = endpoint_problems("https://evil-example.gov/score", ALLOWED)
    assert p.message == (
        "the endpoint host evil-example.gov is not on the policy's allow-list (settings.endpoints.allowed_hosts lists "
        "['*.example.gov', 'scoring.vendor.example']); sending City data to a host the City has not approved is a "
        "data egress (policy 1.3, 1.4): add the host to settings.endpoints.allowed_hosts in the policy, or correct "
        "the URL")
    [p] = endpoint_problems("https://scoring.vendor.example/score", [])
    assert "(settings.endpoints.allowed_hosts is empty, so only loopback is allowed)" in p.message
    # both rules at once: both are reported
    assert rules("http://evil.com/score") == ["endpoint-tls", "endpoint-host"]


def test_require_endpoint_refuses_with_the_rule_and_section_as_data(tmp_path: Path) -> None:
    policy = load_policy()  # the packaged default: an empty allow-list
    require_endpoint("http://127.0.0.1:9/score", policy, tool_id="t")  # loopback: nothing to refuse
    with pytest.raises(ToolConfigError) as e:
        require_endpoint("http://scoring.vendor.example/score", policy, tool_id="vendor-x")
    assert e.value.exit_code == 2
    assert (e.value.rule, e.value.section, e.value.detail) == ("endpoint-tls", "1.3", "scoring.vendor.example")
    assert str(e.value).startswith("tool manifest 'vendor-x': the endpoint host scoring.vendor.example is reached over "
                                   "http://")
    assert "; and the endpoint host scoring.vendor.example is not on the policy's allow-list" in str(e.value)
    allowing = _policy(tmp_path, "    allowed_hosts: [scoring.vendor.example]\n")
    require_endpoint("https://scoring.vendor.example/score", allowing, tool_id="vendor-x")
    with pytest.raises(ToolConfigError) as e:
        require_endpoint("https://scoring.vendor.example.evil.com/score", allowing, tool_id="vendor-x")
    assert (e.value.rule, e.value.detail) == ("endpoint-host", "scoring.vendor.example.evil.com")


# --------------------------------------------------------------------------------------------------
# The allow-list in the policy: validated with its line, and widening it is a weakening


def _policy_file(folder: Path, endpoints: str) -> Path:
    from harness.policy_check import policy_text

    text, _ = policy_text(None)
    marker = "    allowed_hosts: []\n"
    assert marker in text
    path = folder / "policy.yaml"
    path.write_text(text.replace(marker, endpoints))
    return path


def _policy(folder: Path, endpoints: str):
    return load_policy(_policy_file(folder, endpoints))


def test_the_default_policy_allows_loopback_only() -> None:
    policy = load_policy()
    assert policy.settings["endpoints"] == {"allowed_hosts": []}


@pytest.mark.parametrize(("entry", "why"), [
    ("https://scoring.vendor.example", "give the host name alone, without scheme, user, port or path"),
    ("scoring.vendor.example:443", "give the host name alone, without a port"),
    ("'*'", "a wildcard must name a domain of two labels or more"),
    ("'*.gov'", "a wildcard must name a domain of two labels or more"),
    ("'a.*.example.gov'", "not a host name (letters, digits and hyphens in dot-separated labels; * only as the "
                          "first label)"),
    ("exämple.gov", "write an internationalised name in its xn-- form"),
])
def test_a_bad_allow_list_entry_stops_the_run_with_its_line(tmp_path: Path, entry: str, why: str) -> None:
    from harness.policy_check import require_valid_settings

    path = _policy_file(tmp_path, f"    allowed_hosts: [example.gov, {entry}]\n")
    line = path.read_text().splitlines().index(f"    allowed_hosts: [example.gov, {entry}]") + 1
    with pytest.raises(ConfigError) as e:
        require_valid_settings(load_policy(path), path)
    assert str(e.value).startswith(f"policy file {path}, line {line}: settings.endpoints.allowed_hosts is not valid: ")
    assert why in str(e.value)


def test_a_misspelt_endpoints_setting_is_named(tmp_path: Path) -> None:
    from harness.policy_check import require_valid_settings

    path = _policy_file(tmp_path, "    allowed_host: [scoring.vendor.example]\n")
    with pytest.raises(ConfigError) as e:
        require_valid_settings(load_policy(path), path)
    assert "settings.endpoints.allowed_host is not a setting of the harness's 'endpoints' section (did you mean " \
           "allowed_hosts?); its settings are: allowed_hosts" in str(e.value)


def test_adding_a_host_is_a_weakening_and_removing_one_is_not(tmp_path: Path) -> None:
    from harness.gate.policies import weakenings

    base = load_policy()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wider = _policy(tmp_path / "a", "    allowed_hosts: [scoring.vendor.example, '*.example.gov']\n")
    narrower = _policy(tmp_path / "b", "    allowed_hosts: [scoring.vendor.example]\n")
    assert weakenings(base, wider) == ["settings.endpoints.allowed_hosts now also allows scoring.vendor.example, "
                                       "*.example.gov: City data may be sent to more hosts (policy 1.3, 1.4)"]
    assert weakenings(wider, narrower) == []
    assert weakenings(base, base) == []


# --------------------------------------------------------------------------------------------------
# Where the rules are enforced: both network adapters, when built, before anything is sent


def _manifest(folder: Path, adapter: str, *, generative: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = MANIFEST.format(id="vendor-x")
    if generative:
        text = text.replace("category: decision-support", "category: generative")
    path = folder / "tool.yaml"
    path.write_text(text + adapter)
    return path


@pytest.mark.parametrize(("adapter", "generative"), [
    ("adapter:\n  kind: http\n  url: {url}/score\n", False),
    ("adapter:\n  kind: openai\n  base_url: {url}/v1\n  model: m\n", True),
])
@pytest.mark.parametrize(("url", "rule"), [("http://scoring.vendor.example", "endpoint-tls"),
                                           ("https://scoring.vendor.example.evil.com", "endpoint-host"),
                                           ("https://a.example.gov@evil.com", "endpoint-host")])
def test_both_network_adapters_refuse_a_forbidden_endpoint_when_built(tmp_path: Path, adapter: str,
                                                                      generative: bool, url: str, rule: str) -> None:
    policy = _policy(tmp_path, "    allowed_hosts: [scoring.vendor.example, '*.example.gov']\n")
    m = load_manifest(_manifest(tmp_path / "tool", adapter.format(url=url), generative=generative))
    with pytest.raises(ToolConfigError) as e:
        load_tool(m, policy=policy)
    assert (e.value.rule, e.value.section) == (rule, "1.3")
    assert str(e.value).startswith("tool manifest 'vendor-x': the endpoint ")
    # the same endpoint on the allow-list, over TLS, builds (nothing is sent when a tool is built)
    ok = load_manifest(_manifest(tmp_path / "ok", adapter.format(url="https://scoring.vendor.example"),
                                 generative=generative))
    assert load_tool(ok, policy=policy).kind == ok.adapter.kind


def test_without_a_policy_the_packaged_default_applies(tmp_path: Path) -> None:
    m = load_manifest(_manifest(tmp_path, "adapter:\n  kind: http\n  url: https://scoring.vendor.example/score\n"))
    with pytest.raises(ToolConfigError) as e:
        load_tool(m)
    assert e.value.rule == "endpoint-host"


def test_the_key_is_never_sent_to_a_forbidden_host_not_even_for_the_model_list(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before this issue the assessment asked GET {base_url}/models, with the API key, before the adapter was built.
    A proxy from the environment (the loopback server, which would count any request) shows nothing is sent."""
    from harness.workflows.assess import run_assessment

    server = ChatServer(lambda c, q: "I don't know")
    with server as url:
        proxy = url.removesuffix("/v1")
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.setenv("VENDOR_KEY", KEY)
        manifest = _manifest(tmp_path, "adapter:\n  kind: openai\n  base_url: http://chat.vendor.invalid/v1\n"
                                       "  model: m\n  api_key_env: VENDOR_KEY\n", generative=True)
        with pytest.raises(ToolConfigError) as e:
            run_assessment(manifest, ["city-services-qa"], suites=["hallucination"],
                           tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "out")
        assert e.value.rule == "endpoint-tls"
        assert server.requests == 0
        # the same manifest's facts say why the model list was not asked
        from harness.tools.openai import endpoint_facts

        facts = endpoint_facts(load_manifest(manifest))
        assert facts["endpoint.models"].startswith("not asked: endpoint-tls: the endpoint host chat.vendor.invalid is "
                                                   "reached over http://")
        assert server.requests == 0


# --------------------------------------------------------------------------------------------------
# Certificates are verified; redirects are not followed


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, made now (cryptography if installed, else openssl)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        import shutil
        import subprocess

        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is available to make a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=2))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


def _model():
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"income": np.arange(40, dtype=float)})
    return LogisticRegression().fit(x, (x["income"] > 20).astype(int))


def test_a_self_signed_certificate_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    import httpx
    import pandas as pd

    cert, key = self_signed(tmp_path)
    server = ScoringServer(_model(), tls=(cert, key))
    with server:
        assert server.url.startswith("https://127.0.0.1:")
        # the server works for a client that trusts its certificate ...
        trusting = ssl.create_default_context(cafile=str(cert))
        ok = httpx.post(server.url, json={"instances": [{"id": "r0", "income": 30.0}]}, verify=trusting)
        assert ok.status_code == 200 and ok.json()["predictions"][0]["label"] == 1
        server.reset_counts()
        # ... and the adapter, which trusts only real authorities, refuses it at once, without retrying
        m = load_manifest(_manifest(tmp_path / "tool", f"adapter:\n  kind: http\n  url: {server.url}\n"
                                                       f"  max_retries: 3\n"))
        tool = load_tool(m)
        with pytest.raises(ToolError) as e:
            tool.predict_frame(pd.DataFrame({"income": [30.0, 10.0]}))
        assert str(e.value) == (
            f"the scoring endpoint {server.origin} of tool 'vendor-x' is unreachable: the TLS certificate of "
            f"{server.origin} could not be verified (certificate verify failed: self-signed certificate); the "
            f"harness always verifies certificates, so the endpoint needs one from an authority this machine "
            f"trusts; start the server or correct adapter.url in the manifest")
        assert server.calls == 0  # no request got through the handshake


def test_the_openai_adapter_refuses_a_self_signed_certificate_too(tmp_path: Path) -> None:
    import pandas as pd

    cert, key = self_signed(tmp_path)
    with ChatServer(lambda c, q: "yes", tls=(cert, key)) as url:
        m = load_manifest(_manifest(tmp_path / "tool", f"adapter:\n  kind: openai\n  base_url: {url}\n  model: m\n"
                                                       f"  cache: false\n", generative=True))
        tool = load_tool(m)
        with pytest.raises(ToolError) as e:
            tool.generate(pd.DataFrame({"id": ["q"], "context": ["c"], "question": ["q?"]}))  # type: ignore[attr-defined]
        assert "is unreachable" in str(e.value) and "CERTIFICATE_VERIFY_FAILED" in str(e.value)


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    """The vendor's server answers 307 to a host nobody checked: the rows are not sent there, and the batch fails
    with the reason (here every row, so the call fails whole)."""
    import pandas as pd

    elsewhere = ScoringServer(_model())
    with elsewhere:
        server = ScoringServer(_model(), faults=[Fault.redirect("", elsewhere.url.replace("127.0.0.1", "localhost"))])
        with server:
            m = load_manifest(_manifest(tmp_path, f"adapter:\n  kind: http\n  url: {server.url}\n"))
            tool = load_tool(m)
            with pytest.raises(ToolError) as e:
                tool.predict_frame(pd.DataFrame({"income": [30.0]}))
            assert str(e.value) == (
                f"tool 'vendor-x': every one of the 1 rows failed; the first: row '0': HTTP 307 from {server.origin}: "
                f"a redirect to host localhost, not followed (City data goes only to the URL in the manifest, whose "
                f"host the endpoint rules checked; policy 1.3)")
            assert server.calls == 1
        assert elsewhere.requests == 0
