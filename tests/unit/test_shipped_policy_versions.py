"""A shipped policy version never changes content: a database that loaded it refuses the same
version with other content (``yibao load-reference``, run by every ``yibao up``), so an edit of
``data/reference/policy-*.json`` must publish a new version. This pins each shipped version's
checksum (the loader's: SHA-256 of the document with sorted keys)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from yibao.config import REPO_ROOT

#: every version ever shipped, with its checksum; add a line when publishing a new one
SHIPPED = {
    "430522-2026-v1": "1eb7990e88dcd5ce55d4b97af029d092406c2546efca7d2c7fabc788923982f5",
    "430522-2026-v2": "f31382acbd1ab0058b6702ec514b35770419f6f8f9442eff3afcdf4f7492533a",
    "430522-2026-v3": "57b720721069ff29495012f1cdf721297dc7363e096b8aeb44212a0bbbde2296",
}


def _checksum(path: Path) -> tuple[str, str]:
    doc = json.loads(path.read_text())
    return str(doc["version"]), hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def test_each_shipped_policy_file_is_the_version_it_names() -> None:
    files = sorted((REPO_ROOT / "data" / "reference").glob("policy-*.json"))
    assert files
    for path in files:
        version, checksum = _checksum(path)
        assert version in SHIPPED, f"{path.name}: new version {version}: add it to SHIPPED ({checksum})"
        assert SHIPPED[version] == checksum, (
            f"{path.name} changed the content of {version}, which databases may have loaded: "
            "publish the change under a new version (bump `version`, add it to SHIPPED)"
        )
