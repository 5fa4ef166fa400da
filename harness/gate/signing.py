"""Signed records and an anchor outside the store (issue 11, policy 3.2).

A hash chain proves that no record was changed in place, but anyone who can write to the MLflow store can
append a record with a correct hash, or delete the last one, and the chain still verifies. So:

- every record carries the fingerprint of the key that signed it (field `signer`), and its Ed25519 signature
  over the record's canonical JSON is kept in the tag `harness.decision.signature`. The private key lives
  with the harness installation, outside the store (`HARNESS_SIGNING_KEY`, default
  `~/.config/harness/signing.key`, mode 0600, made by `harness keys init` or by the first record written);
  verification accepts only signatures by this installation's key and the public keys listed in the file
  `HARNESS_TRUSTED_KEYS` (one base64 key per line, `#` comments), e.g. a second DTI workstation; a key
  listed with `only=submit` (a vendor's installation on the shared server) may sign only those records
  (`scopes`). A record appended through the MLflow API without the key is detected.
- every record this installation writes moves its anchor, `heads.json` beside the key: per log (named by
  the store's URI, the log and the sha256 of its first record, so a new store at the same place never meets
  an old store's anchor) the highest record written and its sha256. A log that no longer holds that record
  had its tail deleted (or the store was restored from a backup older than the last decision: say so in the
  record of what happened, then remove that entry from heads.json).
- `harness history --verify --expect HEAD` checks the head against one published elsewhere
  (`records export`, `register export`), for a verifier who is not this installation.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ENV = "HARNESS_SIGNING_KEY"
TRUST_ENV = "HARNESS_TRUSTED_KEYS"
SIGNATURE_TAG = "harness.decision.signature"
HEADS = "heads.json"


def key_path() -> Path:
    """Where this installation's private key is: $HARNESS_SIGNING_KEY, else the user's config folder."""
    if os.environ.get(KEY_ENV, "").strip():
        return Path(os.environ[KEY_ENV].strip()).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME", "").strip() or Path.home() / ".config")
    return base / "harness" / "signing.key"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """`ed25519:` and the first 40 hex digits of the sha256 of the raw public key (not 32: that reads like an
    MLflow run id, which the public register must never carry)."""
    return "ed25519:" + hashlib.sha256(_raw_public(key)).hexdigest()[:40]


def public_text(key: Ed25519PublicKey) -> str:
    """The public key as one line of base64 (what `HARNESS_TRUSTED_KEYS` lists and exports publish)."""
    return base64.b64encode(_raw_public(key)).decode("ascii")


@dataclass(frozen=True)
class Signer:
    path: Path
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, text: str) -> str:
        return base64.b64encode(self.private.sign(text.encode())).decode("ascii")


def init_key(path: Path | None = None) -> Signer:
    """Create the installation's key (refused when one exists: replacing it would orphan every record it
    signed). The file is created with mode 0600 in one call, so it is never readable by others."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    where = path or key_path()
    if where.exists():
        raise ConfigError(f"a signing key already exists at {where}; the records it signed are verified with it, so "
                          "it is never replaced. Point HARNESS_SIGNING_KEY elsewhere to make another")
    where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # written whole under a private name, then linked into place: a process that finds the key never reads a
    # half-written file, and of two processes making it at once exactly one wins (link fails if it exists)
    part = where.with_name(f".{where.name}.{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(part, where)
        except FileExistsError:
            raise ConfigError(f"a signing key already exists at {where}; the records it signed are verified with "
                              "it, so it is never replaced. Point HARNESS_SIGNING_KEY elsewhere to make another"
                              ) from None
    finally:
        part.unlink(missing_ok=True)
    where.with_suffix(".pub").write_text(public_text(key.public_key()) + "\n", encoding="ascii")
    return Signer(where, key)


def load_signer(create: bool = True) -> Signer:
    """This installation's key; made on first use (as `harness keys init` would) unless `create` is False."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = key_path()
    if not where.exists():
        if not create:
            raise ConfigError(f"no signing key at {where}: run `harness keys init`")
        try:
            return init_key(where)
        except ConfigError:  # another process made it first
            pass
    mode = where.stat().st_mode & 0o077
    if mode:
        shown = oct(where.stat().st_mode & 0o777)
        raise ConfigError(f"the signing key {where} can be read by other users (mode {shown}); run `chmod 600 "
                          f"{where}`")
    try:
        key = load_pem_private_key(where.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where} is not a signing key made by `harness keys init`: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where} is not an Ed25519 key")
    return Signer(where, key)


def _public_from_text(text: str, where: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as e:
        raise ConfigError(f"{where}: {text[:20]!r}... is not a base64 Ed25519 public key: {e}") from None


def trusted() -> dict[str, Ed25519PublicKey]:
    """fingerprint -> key of every signer whose records this installation accepts."""
    keys: dict[str, Ed25519PublicKey] = {}
    if key_path().exists():  # reading never makes a key: a machine without one trusts only the listed keys
        own = load_signer(create=False).public
        keys[fingerprint(own)] = own
    listing = os.environ.get(TRUST_ENV, "").strip()
    if listing:
        path = Path(listing).expanduser()
        if not path.is_file():
            raise ConfigError(f"{TRUST_ENV} names {path}, which does not exist")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.split("#", 1)[0].strip().split()
            if text:
                key = _public_from_text(text[0], f"{path}, line {n}")
                keys[fingerprint(key)] = key
    return keys


def scopes() -> dict[str, frozenset[str]]:
    """fingerprint -> the only record actions a listed key may sign, for keys listed with `only=ACTION,...`
    after them in `HARNESS_TRUSTED_KEYS` (issue 12): a vendor's installation is trusted to sign its own
    `submit` records and nothing else, so a decision record it forged through the MLflow API breaks the
    history (the gate closes) instead of deciding anything. Keys listed without it may sign any record."""
    from harness.gate.records import ACTIONS

    out: dict[str, frozenset[str]] = {}
    listing = os.environ.get(TRUST_ENV, "").strip()
    if not listing or not Path(listing).expanduser().is_file():
        return out
    path = Path(listing).expanduser()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip().split()
        limits = [w.removeprefix("only=") for w in text[1:] if w.startswith("only=")]
        if text and limits:
            actions = frozenset(a for part in limits for a in part.split(",") if a)
            unknown = sorted(actions - set(ACTIONS))
            if unknown or not actions:
                raise ConfigError(f"{path}, line {n}: only= names {unknown or 'no action'}; record actions are "
                                  f"{', '.join(ACTIONS)}")
            out[fingerprint(_public_from_text(text[0], f"{path}, line {n}"))] = actions
    return out


def check(text: str, signature: str | None, signer: str | None, keys: dict[str, Ed25519PublicKey],
          action: str | None = None, limits: dict[str, frozenset[str]] | None = None) -> str | None:
    """Why the record's signature is not acceptable, or None when it is: no signature, an unknown signer, a
    signature that does not match, or a key trusted only for other actions (`scopes`)."""
    from cryptography.exceptions import InvalidSignature

    if not signature or not signer:
        return "it carries no signature"
    key = keys.get(signer)
    if key is None:
        return (f"it is signed by {signer}, which is not this installation's key nor one listed in {TRUST_ENV}")
    try:
        key.verify(base64.b64decode(signature, validate=True), text.encode())
    except (InvalidSignature, ValueError):
        return f"its signature does not match its content under {signer}'s key"
    allowed = (limits or {}).get(signer)
    if allowed is not None and action not in allowed:
        return (f"it is a{'n' if str(action)[:1] in 'aeiou' else ''} {action} record signed by {signer}, which "
                f"{TRUST_ENV} trusts only for {', '.join(sorted(allowed))} records")
    return None


# -- the anchor: the last record this installation wrote, per log ------------------------------------------


def _heads_path() -> Path:
    return key_path().with_name(HEADS)


def _heads() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_heads_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def anchor_key(uri: str, log: str, first_sha256: str) -> str:
    return f"{uri}|{log}|{first_sha256}"


def heads() -> dict[str, dict[str, object]]:
    """Every anchor, read at once. Read it before the log: an anchor moves only after its record is in the
    store, so a snapshot taken first never names a record the log read after it lacks (no false alarm when
    another process appends meanwhile)."""
    return _heads()


def anchor(uri: str, log: str, first_sha256: str,
           snapshot: dict[str, dict[str, object]] | None = None) -> tuple[int, str] | None:
    """(seq, sha256) of the highest record this installation wrote to the log that starts with that record."""
    entry = (_heads() if snapshot is None else snapshot).get(anchor_key(uri, log, first_sha256))
    if not isinstance(entry, dict):
        return None
    seq, sha = entry.get("seq"), entry.get("sha256")
    return (seq, sha) if isinstance(seq, int) and isinstance(sha, str) else None


def move_anchor(uri: str, log: str, first_sha256: str, seq: int, sha256: str) -> None:
    """Record that this installation wrote record `seq`; never moves an anchor backwards. Locked, so two
    processes writing at once cannot lose each other's update."""
    import fcntl
    import tempfile

    path = _heads_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        heads = _heads()
        key = anchor_key(uri, log, first_sha256)
        old = heads.get(key)
        if isinstance(old, dict) and isinstance(old.get("seq"), int) and old["seq"] >= seq:  # type: ignore[operator]
            return
        heads[key] = {"seq": seq, "sha256": sha256}
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
            json.dump(heads, f, indent=1, sort_keys=True)
        os.replace(f.name, path)
