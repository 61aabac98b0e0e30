"""Render the admin-editable Jinja2 templates of outgoing mail.

Templates live in the configured folder as ``NAME.txt.j2`` (required) and
``NAME.html.j2`` (optional HTML alternative). They render in Jinja2's
sandbox (a template cannot reach Python internals) with ``StrictUndefined``
(a typo is an error, found by ``mailgate check-config`` rather than at 3 a.m.)
and HTML autoescaping, so a customer's ``<script>`` in a subject stays text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from jinja2 import (
    FileSystemLoader,
    FunctionLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailgate import locales
from mailgate.config import Config
from mailgate.errors import ConfigError
from mailgate.template_samples import sample_contexts, union_context

log = structlog.get_logger("mailgate.render")

# Every kind of mail mailgate sends, and whether its text template must exist.
TEMPLATES = ("ack", "merged", "notification", "relay", "command_error", "reminder")
# Sent only when a setting asks for them (auto-close, the resolved mail); a folder made
# before they existed still passes ``check``.
OPTIONAL = ("waiting", "resolved")
# Added after a folder may have been copied from the defaults: where the folder lacks one,
# the packaged default serves it (no ``template_failed``); ``check`` does not ask for it.
LATER = ("relay_notice",)


_TEMPLATE_NAME = re.compile(
    r"^(?P<kind>[a-z_]+)(?:\.[a-z]{2})?\.(?:txt|html)\.j2$")  # a language: two small letters


def stray_templates(templates_dir: Path) -> list[str]:
    """What ``check-config`` warns of: a ``.j2`` file in the admin's folder that no mail
    uses (a misspelt name such as ``acknowledgement.txt.j2`` is otherwise silently ignored
    while the packaged default goes out), unless another template includes it by name."""
    known = {*TEMPLATES, *OPTIONAL, *LATER}
    files = sorted(templates_dir.glob("*.j2")) if templates_dir.is_dir() else []
    sources = {}
    for path in files:
        try:
            sources[path.name] = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            sources[path.name] = ""
    warnings = []
    for path in files:
        match = _TEMPLATE_NAME.match(path.name)
        if match and match["kind"] in known:
            continue
        if any(path.name in text for name, text in sources.items() if name != path.name):
            continue  # a part another template includes or extends
        warnings.append(f"{path}: no mail uses this template (names are KIND.txt.j2,"
                        f" KIND.LANG.txt.j2 with LANG two small letters such as 'pt',"
                        f" KIND.html.j2; kinds: {', '.join(sorted(known))})")
    return warnings


@dataclass(frozen=True)
class Rendered:
    text: str
    html: str | None
    # set by ``render_or_default`` when the admin's template failed: what went wrong
    failure: str | None = None


@pass_context
def _when(context: Context, value: datetime | None, fmt: str | None = None) -> str:
    """An instant in the words of the template's language (``lang``), or by ``fmt``."""
    if value is None:
        return ""
    if fmt:
        return value.strftime(fmt)
    return locales.when(value, context.get("lang"))


class Renderer:
    """Loads templates from one folder; cheap to keep, rebuilt on reload."""

    def __init__(self, directory: str | Path, *, must_exist: bool = True) -> None:
        self.directory = Path(directory)
        if must_exist and not self.directory.is_dir():
            raise ConfigError(f"template folder {self.directory} does not exist")
        self.env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(self.directory)),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        # (name, language) -> (text, html) templates; only kept once the templates are a
        # fixed snapshot (``freeze``): a folder on disk may change under a running CLI
        self._chosen: dict[tuple[str, str | None], tuple[Template, Template | None]] | None \
            = None
        self.sources: dict[str, str] | None = None  # the snapshot, once frozen

    @classmethod
    def frozen(cls, directory: str | Path, sources: dict[str, str]) -> Renderer:
        """A renderer of ``sources`` that the daemon validated (a worker process's: the
        folder on disk may have changed since, or be gone)."""
        renderer = cls(directory, must_exist=False)
        renderer.freeze(sources)
        return renderer

    def freeze(self, sources: dict[str, str]) -> None:
        """Serve ``sources`` (file name -> text) from now on instead of the folder, and
        remember which template each (name, language) resolves to."""
        self.sources = dict(sources)
        self.env.loader = FunctionLoader(self._snapshot_source)
        if self.env.cache is not None:
            self.env.cache.clear()
        self._chosen = {}

    def _snapshot_source(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        """A template of the snapshot, under its file's path (errors name file and line)."""
        assert self.sources is not None
        if name not in self.sources:
            return None
        return self.sources[name], str(self.directory / name), lambda: True

    def language_of(self, name: str, language: str | None) -> str:
        """The language ``name`` is written in for a customer of ``language``: theirs when
        its variant exists, else the default templates' (English)."""
        return _language(self._templates(name, language)[0])

    def _choose(self, name: str, language: str | None) -> tuple[Template, Template | None]:
        base, template = name, None
        if language:  # asked of the loader: a running daemon's is a snapshot of the folder
            try:
                template = self.env.get_template(f"{name}.{language}.txt.j2")
                base = f"{name}.{language}"
            except TemplateNotFound:
                template = None
        text = template or self.env.get_template(f"{base}.txt.j2")
        try:
            html: Template | None = self.env.get_template(f"{base}.html.j2")
        except TemplateNotFound:
            html = None
        return text, html

    def _templates(self, name: str, language: str | None) -> tuple[Template, Template | None]:
        """The (text, html) templates of ``name`` for ``language``, remembered once frozen."""
        if self._chosen is None:
            return self._choose(name, language)
        key = (name, language)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._chosen[key] = self._choose(name, language)
        return chosen

    def render(self, name: str, context: dict[str, Any],
               language: str | None = None) -> Rendered:
        """Render ``name`` (e.g. ``"ack"``) to text and, if a template exists, HTML.

        With ``language``, ``NAME.LANG.txt.j2`` is used when it exists (its HTML part
        likewise ``NAME.LANG.html.j2``, else none), else the default ``NAME.txt.j2``.
        The template sees ``lang``, the language it is written in (dates follow it).
        """
        text, html = self._templates(name, language)
        context = context | {"lang": _language(text)}
        return Rendered(text.render(context), html.render(context) if html else None)

    def render_or_default(self, name: str, context: dict[str, Any],
                          language: str | None = None) -> Rendered:
        """``render``; if the admin's template fails on this mail (a mistake ``check``
        could not see), the packaged default of ``name`` instead, with ``failure`` set:
        the customer still gets their ticket and mail. Logged as ``template_failed``."""
        try:
            return self.render(name, context, language)
        except TemplateError as exc:
            default = _packaged()
            if default is None or default.directory == self.directory:
                raise
            if isinstance(exc, TemplateNotFound) and name in LATER \
                    and exc.name == f"{name}.txt.j2":
                return default.render(name, context, language)
            failure = _describe(exc, _failed_file(exc, self.directory / f"{name}.txt.j2"))
            ticket = context.get("ticket")
            log.error("template_failed", template=name, language=language, error=failure,
                      ticket=ticket.get("reference") if isinstance(ticket, dict) else None,
                      used="the packaged default template")
            try:
                rendered = default.render(name, context, language)
            except TemplateError:
                raise exc from None
            return replace(rendered, failure=failure)

    def check(self, needed: tuple[str, ...] = ()) -> list[str]:
        """Render every template with the variables its kind of mail gets, in several
        variants (``sample_contexts``); return one line per problem, naming file and line
        (``needed``: optional kinds the config sends, see ``needed_templates``)."""
        problems = []
        for name in (*TEMPLATES, *needed):
            if not (self.directory / f"{name}.txt.j2").exists():
                problems.append(f"{self.directory}/{name}.txt.j2: missing")
        snapshot = _fingerprint(self.sources) if self.sources is not None else None
        for path in sorted(self.directory.glob("*.j2")):
            problem = self._check_one(path, snapshot)
            if problem:
                problems.append(problem)
        return problems

    def _check_one(self, path: Path, snapshot: str | None) -> str | None:
        """The first failing variant of one template file, described; None if all render.
        A snapshot's file that passed in this process before passes again unrendered:
        the verdict depends only on the snapshot's texts (``_PASSED``)."""
        key = (path.name, snapshot) if snapshot is not None else None
        if key in _PASSED:
            return None
        try:
            template = self.env.get_template(path.name)
        except TemplateError as exc:
            return _describe(exc, path)
        for variant, context in _samples(path.name.split(".")[0]):
            try:
                template.render(context | {"lang": _language(template)})
            except TemplateError as exc:
                return _describe(exc, path) + (f" (when {variant})" if variant else "")
        if key is not None:
            _PASSED.add(key)
        return None


#: (file name, snapshot fingerprint) of each snapshot template that passed ``check`` in this
#: process: a daemon's start, each reload and each test daemon re-check the same texts; a
#: failure is never remembered (its file and line are found again each time)
_PASSED: set[tuple[str, str] | None] = set()  # never holds None


def _fingerprint(sources: dict[str, str]) -> str:
    """A digest of a whole snapshot: a template may include or extend its siblings."""
    text = json.dumps(sorted(sources.items()), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def _samples(kind: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``sample_contexts(kind)``, built once per process: the sandbox cannot change them."""
    return tuple(sample_contexts(kind))


def needed_templates(config: Config) -> tuple[str, ...]:
    """The optional templates ``config`` sends: ``waiting`` with auto-close, ``resolved``
    with auto-close or a resolved mail."""
    settings = config.conversation
    if settings.auto_close_after:
        return OPTIONAL
    return ("resolved",) if settings.resolved_mail != "off" else ()


def _language(template: Template) -> str:
    """``de`` of ``ack.de.txt.j2``; the default ``ack.txt.j2`` is English."""
    parts = (template.name or "").split(".")
    return parts[1] if len(parts) == 4 else "en"


def freeze_templates(renderer: Renderer) -> Renderer:
    """Serve templates from a snapshot of their folder taken now.

    Jinja's file loader re-reads a template whose file changed, so an edit would
    take effect mid-flight, unchecked (a typo would quarantine mail). With the
    snapshot, edits take effect at the next reload, after validation.
    """
    sources = {}
    for path in sorted(renderer.directory.rglob("*")):
        if path.is_file():
            try:
                sources[path.relative_to(renderer.directory).as_posix()] = \
                    path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # not a template
    renderer.freeze(sources)
    return renderer


@cache
def _packaged() -> Renderer | None:
    """The templates that come with mailgate (the fallback of ``render_or_default``)."""
    from mailgate.defaults import TEMPLATES as FOLDER

    try:
        return freeze_templates(Renderer(FOLDER))
    except ConfigError:
        return None


def _failed_file(exc: BaseException, default: Path) -> Path:
    """The template file that raised ``exc`` (its innermost template frame)."""
    filename = getattr(exc, "filename", None)  # a syntax error knows its file
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            filename = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return Path(filename) if filename else default


def _describe(exc: TemplateError, path: Path) -> str:
    """``FILE:LINE: ErrorType: message``, as ``check-config`` prints a problem."""
    line = getattr(exc, "lineno", None) or _template_line(exc, path)
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {type(exc).__name__}: {exc}"


def _template_line(exc: BaseException, path: Path) -> int | None:
    """The template line of a render-time error (Jinja puts template frames in tracebacks)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def sample_context() -> dict[str, Any]:
    """Data shaped like what the pipeline passes, every kind's together, for previews."""
    return union_context()
