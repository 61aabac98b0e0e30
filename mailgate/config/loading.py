"""Read a TOML file into a ``Config``, turning every problem into one ``ConfigError``.

The messages name the file and each dotted key (all problems at once), which
is what an operator needs to fix a config; tests rely on their exact wording.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from mailgate.config.model import Config
from mailgate.errors import ConfigError


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            near = difflib.get_close_matches(str(item["loc"][-1]), _keys_at(item["loc"][:-1]),
                                             n=1, cutoff=0.75)
            lines.append(f"  {path}: unknown key" + (f" (did you mean {near[0]!r}?)"
                                                      if near else ""))
        else:
            message = item["msg"].removeprefix("Value error, ")
            got = item.get("input")
            shown = "" if isinstance(got, dict | list) or repr(got) in message \
                else f" (got {got!r})"  # once: a message may name the value itself
            lines.append(f"  {path}: {message}{shown}" if path else f"  {message}{shown}")
    return "\n".join(lines)


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the table at ``loc`` may hold (for "did you mean"), from the models."""
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            continue  # a list index or a table name of the admin's ([sla.levels.gold])
        inner = _model_in(field.annotation)
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, or inside list[...] / dict[str, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def load_config(path: str | Path | None = None) -> Config:
    """Read, validate and return the configuration; raise ConfigError naming key and file."""
    if path is None:
        return Config(base_dir=str(Path.cwd()))
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_text(text, str(path), str(path.resolve().parent))


def config_from_text(text: str, source: str, base_dir: str) -> Config:
    """The configuration in ``text``, as if read from the file ``source`` (a worker
    process gets the text its daemon validated, not the file as it is now on disk)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    for reserved in ("source", "base_dir"):
        if reserved in data:
            raise ConfigError(f"{source}\n  {reserved}: unknown key")
    try:
        config = Config(**data, source=source, base_dir=base_dir)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    config._text = text
    return config
