"""Remembering pure functions of short text, bounded in what they hold.

``functools.lru_cache`` bounds the number of entries, not their size: a hostile mail's
20 KB "word" (or a 10 MB text) would stay in memory as a key. ``memo`` remembers only calls
whose arguments are short together; longer ones are computed every time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, update_wrapper
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


def memo(maxsize: int, max_chars: int) -> Callable[[F], F]:
    """An ``lru_cache`` of ``maxsize`` entries for a pure function of positional ``str``
    arguments, used when they are at most ``max_chars`` long together (so it holds at most
    ``maxsize * max_chars`` characters of keys); ``cache_info`` reports on it and
    ``cache_clear`` empties it, as ``lru_cache``'s do."""

    def wrap(fn: F) -> F:
        store = lru_cache(maxsize=maxsize)(fn)

        def one(text: str) -> Any:  # the common case, without packing arguments
            return store(text) if len(text) <= max_chars else fn(text)

        def many(*args: str) -> Any:
            return store(*args) if sum(map(len, args)) <= max_chars else fn(*args)

        wrapper: Any = update_wrapper(one if fn.__code__.co_argcount == 1 else many, fn)
        wrapper.cache_info = store.cache_info
        wrapper.cache_clear = store.cache_clear
        return cast(F, wrapper)

    return wrap
