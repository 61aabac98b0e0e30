"""Email commands: ``#status on_hold``, ``#close``, ``#assign alice`` at the top of a reply.

Only engineers' mail is read for commands (the pipeline decides who is one);
for anyone else ``#close`` is just text. Commands are the lines at the very
top of the new text, before the first line that is not a command (blank lines
between them are allowed). ``#note`` makes the rest of the mail an internal
note. Parsing is pure: it returns the commands and the remaining text, or the
list of what is wrong, and nothing is applied unless everything is right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE = re.compile(r"^#([A-Za-z_]+)\b[ \t]*(.*)$")
_TIME = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$", re.IGNORECASE)

# name -> (takes an argument?, help)
KNOWN = {
    "status": (True, "#status STATUS"),
    "close": (False, "#close"),
    "reopen": (False, "#reopen"),
    "priority": (True, "#priority PRIORITY"),
    "level": (True, "#level LEVEL"),
    "assign": (True, "#assign NAME|ADDRESS|nobody"),
    "category": (True, "#category CATEGORY"),
    "merge": (True, "#merge REFERENCE"),
    "note": (False, "#note (the rest of the mail is an internal note)"),
    "time": (True, "#time 30m | 1h | 1h30m"),
    "cc": (True, "#cc +address | -address"),
    "field": (True, "#field NAME VALUE"),
}


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


@dataclass
class Parsed:
    commands: list[Command] = field(default_factory=list)
    text: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def is_note(self) -> bool:
        return any(c.name == "note" for c in self.commands)


def minutes(value: str) -> int | None:
    """``30m``, ``1h``, ``1h30m``, ``90`` (minutes) as minutes; None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    match = _TIME.match(value)
    if not match or not (match[1] or match[2]):
        return None
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def parse(text: str) -> Parsed:
    """Split the leading command lines off ``text`` and check their syntax."""
    result = Parsed()
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        match = _LINE.match(line)
        if not match:
            break
        name, argument = match[1].lower(), match[2].strip()
        index += 1
        if name not in KNOWN:
            result.errors.append(f"unknown command #{name}; known: "
                                 + ", ".join(f"#{k}" for k in KNOWN))
            continue
        takes_argument, usage = KNOWN[name]
        if takes_argument and not argument:
            result.errors.append(f"#{name} needs an argument: {usage}")
            continue
        if name == "time" and minutes(argument) is None:
            result.errors.append(f"#time {argument}: not a duration; use {usage}")
            continue
        if name == "field" and len(argument.split(None, 1)) != 2:
            result.errors.append(f"#field {argument}: use {usage}")
            continue
        if name == "cc" and (argument[:1] not in "+-" or "@" not in argument):
            result.errors.append(f"#cc {argument}: use {usage}")
            continue
        if name == "note":
            result.commands.append(Command("note", argument))
            rest = [argument] if argument else []
            result.text = "\n".join([*rest, *lines[index:]]).strip()
            return result
        result.commands.append(Command(name, "" if not takes_argument else argument))
    result.text = "\n".join(lines[index:]).strip()
    return result
