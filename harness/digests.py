"""One file digest for every record that names a file by its content: dataset cards, vendor bundles,
records exports and plans must agree byte for byte on what "the same file" means."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks so a large dataset never has to fit in memory."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
