"""A plugin whose import fails: the harness must refuse to run rather than silently drop it."""
from __future__ import annotations

import harness_dependency_that_does_not_exist  # noqa: F401
