"""The files mailgate ships inside its package, so that a wheel (pip, pipx, a container
build) has them as a source checkout does: the default templates, the commented example
config that ``mailgate init`` writes, the SLA presets, and the deployment examples (the
systemd unit, the Postfix transport and master.cf entries) that ``init`` copies too.

They are package data of ``mailgate`` (``pyproject.toml``), found next to this module;
nothing here is read at import time.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
TEMPLATES = FOLDER / "templates"
EXAMPLE_CONFIG = FOLDER / "mailgate.toml.example"
SLA_PRESETS = FOLDER / "sla-presets"
DEPLOY = FOLDER / "deploy"
# every version each packaged template had (tools/template_history.py; template_copies.py)
TEMPLATE_HISTORY = FOLDER / "template-history.json"
