"""The message class the bounded parser builds: MIME parameters split once, nesting known.

Built only through public ``email`` API: it is the policy's ``message_factory``, and
overrides the public ``get_param``/``get_params`` and ``attach``.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import unquote
from typing import Any, Protocol

Params = list[tuple[str, Any]]


class _Watcher(Protocol):
    """What the bounded parser's limits need to hear of (``bounded._Limits``)."""

    def attached(self, parent: _Message, child: _Message) -> None: ...


class _Message(EmailMessage):
    """EmailMessage that splits its MIME parameters once per field value, and knows how deep
    it is nested.

    ``Message.get_param`` (charset, filename, boundary, ...) re-splits the whole field on
    every call, quadratically in the number of quotes and semicolons: ``get_param`` and
    ``get_params`` (through which ``get_filename``, ``get_boundary``,
    ``get_content_charset``, ... read) take the split from a cache instead.

    ``nesting`` (enclosing messages) and ``boundaries`` (enclosing multiparts, whose
    boundaries the parser matches each line of this part against) are set by ``attach``,
    which the feed parser calls on the enclosing part with each new one; a policy with a
    ``watcher`` (the bounded parser's) hears of each attach, to enforce its limits.
    """

    nesting = 0
    boundaries = 0

    def attach(self, payload: Any) -> None:
        if isinstance(payload, _Message):
            payload.nesting = self.nesting + 1
            payload.boundaries = self.boundaries + (self.get_content_maintype() == "multipart")
            watcher: _Watcher | None = getattr(self.policy, "watcher", None)
            if watcher is not None:
                watcher.attached(self, payload)
        super().attach(payload)

    def get_params(self, failobj: Any = None, header: str = "content-type",
                   unquote: bool = True) -> Any:
        params = self._split(header)
        if params is None:
            return failobj
        return [(k, _unquoted(v)) for k, v in params] if unquote else list(params)

    def get_param(self, param: str, failobj: Any = None, header: str = "content-type",
                  unquote: bool = True) -> Any:
        params = self._split(header)
        if params is None:
            return failobj
        wanted = param.lower()
        for key, value in params:
            if key.lower() == wanted:
                return _unquoted(value) if unquote else value
        return failobj

    def _split(self, header: str) -> Params | None:
        """The parameters of field ``header`` as the stock ``get_params(unquote=False)``
        splits them, once per value; None if there is no such field."""
        value = self.get(header)
        if value is None:
            return None
        cache: dict[tuple[str, str], Params] = self.__dict__.setdefault("_mailgate_params", {})
        key = (header.lower(), str(value))
        found = cache.get(key)
        if found is None:
            found = cache[key] = super().get_params([], header, unquote=False)
        return found


def _unquoted(value: Any) -> Any:
    """A parameter value unquoted as ``get_param`` returns it (an RFC 2231 value is a
    (charset, language, text) triple of which the text is unquoted)."""
    if isinstance(value, tuple):
        return value[0], value[1], unquote(value[2])
    return unquote(value)
