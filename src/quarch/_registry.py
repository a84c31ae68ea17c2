"""A small name -> factory table, one per kind of plug-in (spaces, strategies, ...).

The CLI, the docs and the tests read these tables, so that what a user can name on
the command line and what is tested are the same list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from quarch._errors import ConfigError, did_you_mean

__all__ = ["Entry", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered plug-in: its name, factory and a one-line description."""

    name: str
    factory: T
    description: str


class Registry(Generic[T]):
    """Named factories of one kind.

    Args:
        kind (str): what the entries are ("space", "strategy", ...), used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._pending: list[Callable[[], Iterable[tuple[str, T, str]]]] = []

    def add_lazy(self, loader: Callable[[], Iterable[tuple[str, T, str]]]) -> None:
        """Register the entries ``loader()`` yields (name, factory, description) when the
        table is first read, in the place they would have had if added now.

        For entries that cost a scan to list (every calibration snapshot of an
        installed package): a command that never names one should not pay for it.
        """
        self._pending.append(loader)

    def _load(self) -> None:
        while self._pending:
            loader = self._pending.pop(0)
            for name, factory, description in loader():
                # not ``add``: it would run the next loader before this one's rest
                self._put(name, factory, description)

    def register(self, name: str, description: str) -> Callable[[T], T]:
        """Decorator that registers ``factory`` under ``name``."""

        def deco(factory: T) -> T:
            self.add(name, factory, description)
            return factory

        return deco

    def add(self, name: str, factory: T, description: str) -> None:
        """Register ``factory`` under ``name``; a name can be registered once."""
        self._load()
        self._put(name, factory, description)

    def _put(self, name: str, factory: T, description: str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, factory, description)

    def remove(self, name: str) -> None:
        """Forget ``name`` (so that it can be registered again)."""
        self._load()
        del self._entries[name]

    def get(self, name: str) -> T:
        """The factory named ``name``; an unknown name lists the known ones (a name
        already registered is returned without running the lazy loaders)."""
        if name not in self._entries:
            self._load()
        try:
            return self._entries[name].factory
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose from: {', '.join(self.names())}"
                f"{did_you_mean([name], self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names in registration order."""
        self._load()
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Registered entries in registration order."""
        self._load()
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._entries)
