"""Write ``mailgate/defaults/template-history.json``: every version the packaged templates
ever had (SHA-256 of the bytes), from git, so ``check-config`` can tell an admin's
unedited copy of an older version (``mailgate/template_copies.py``).

Run after changing a packaged template (``tests/test_template_copies.py`` fails until the
current version is listed):
``.venv/bin/python tools/template_history.py``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "mailgate" / "defaults" / "templates"
OUT = ROOT / "mailgate" / "defaults" / "template-history.json"


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout


def main() -> int:
    history: dict[str, list[str]] = {}
    for path in sorted(TEMPLATES.glob("*.j2")):
        rel = path.relative_to(ROOT).as_posix()
        seen = {hashlib.sha256(path.read_bytes()).hexdigest()}
        for commit in _git("log", "--format=%H", "--follow", "--", rel).decode().split():
            try:
                seen.add(hashlib.sha256(_git("show", f"{commit}:{rel}")).hexdigest())
            except subprocess.CalledProcessError:  # renamed: the old name at that commit
                continue
        history[path.name] = sorted(seen)
    OUT.write_text(json.dumps(history, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(history)} templates, "
          f"{sum(map(len, history.values()))} versions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
