"""A generic registry with lazy "module:attr" entries, as lm-evaluation-harness does.

Entries are import paths, so listing names costs nothing and heavy modules (recbole,
transformers) load only when a method is actually used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from bench.errors import unknown

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, str | T] = {}
        self._help: dict[str, str] = {}

    def add(self, name: str, target: str | T, help: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"duplicate {self.kind} {name!r}")
        if isinstance(target, str) and ":" not in target:
            raise ValueError(f"lazy {self.kind} entry {target!r} must look like 'module:attr'")
        self._entries[name] = target
        self._help[name] = help

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj, help)
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise unknown(self.kind, name, self._entries)
        target = self._entries[name]
        if isinstance(target, str):
            module, attr = target.split(":", 1)
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target  # type: ignore[return-value]

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)


def build(registry: Registry[Any], name: str, *args: Any, **kwargs: Any) -> Any:
    return registry.get(name)(*args, **kwargs)
