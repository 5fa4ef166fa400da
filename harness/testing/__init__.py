"""`harness.testing`: the conformance kit for adapter and suite authors (DESIGN.md, after
scikit-learn's `check_estimator`). It starts with `ChatServer`, a real chat-completions server on
loopback with fault injection, so a generative adapter or check is tested over real HTTP."""
from __future__ import annotations

from harness.testing.chat_server import ChatServer, Fault

__all__ = ["ChatServer", "Fault"]
