"""House rule: no dependence on a library's private internals (README, "Dependencies, and
why"). A static check of ``mailgate/``: no private module or name imported from a library,
no private method of a library class overridden, but the one documented exception."""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from email.feedparser import BytesFeedParser
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mailgate"
# intake/smtp.py: the only place aiosmtpd lets a path parser in (tested against stock)
ALLOWED_OVERRIDES = {"mailgate.intake.smtp.Connection._getaddr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _findings(path: Path) -> list[str]:
    where = path.relative_to(PACKAGE).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                not node.module.startswith("mailgate"):
            if any(_private(p) for p in node.module.split(".")) or \
                    any(_private(a.name) for a in node.names):
                found.append(f"{where}:{node.lineno} imports from {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno} imports {a.name}" for a in node.names
                      if any(_private(p) for p in a.name.split("."))]
    return found


_METHODS = (types.FunctionType, staticmethod, classmethod, property)


def _overrides(module_name: str) -> list[str]:
    """Private methods of library classes that classes of ``module_name`` override."""
    module = importlib.import_module(module_name)
    found = []
    for cls in vars(module).values():
        if not inspect.isclass(cls) or cls.__module__ != module_name:
            continue
        library = [base for base in cls.__mro__[1:]
                   if not base.__module__.startswith(("mailgate", "builtins"))]
        found += [f"{module_name}.{cls.__name__}.{name}" for name, value in vars(cls).items()
                  if _private(name) and isinstance(value, _METHODS)
                  and any(name in vars(base) for base in library)]
    return [f for f in found if f not in ALLOWED_OVERRIDES]


def test_no_private_library_internals_are_used() -> None:
    paths = sorted(PACKAGE.rglob("*.py"))
    assert [f for path in paths for f in _findings(path)] == []
    modules = [".".join(("mailgate", *path.relative_to(PACKAGE).with_suffix("").parts))
               .removesuffix(".__init__") for path in paths if path.name != "__main__.py"]
    assert [f for name in modules for f in _overrides(name)] == []


def test_the_check_sees_a_private_import_and_override(tmp_path: Path) -> None:
    """The checks find what they are for (so the test above can fail)."""
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        module = tmp_path / "m.py"
        module.write_text("from email._header_value_parser import get_addr_spec\n"
                          "from email.feedparser import BytesFeedParser\n")
        assert len(_findings(module)) == 1
    finally:
        PACKAGE = saved
    assert _overrides("email.feedparser") == []  # the stdlib's own classes are not ours
    assert "mailgate.message.mimepart._Message._split" not in _overrides(
        "mailgate.message.mimepart")  # an own helper is no override


class _Probe(BytesFeedParser):
    """What the bounded parser was before the internals task (overrode two private steps)."""

    def _new_message(self) -> None:
        pass

    def _own_helper(self) -> None:
        pass


def test_the_check_sees_an_override_of_a_private_method() -> None:
    assert _overrides(__name__) == [f"{__name__}._Probe._new_message"]
