"""One registry helper for everything chosen by name: relation layers, landmark backends, dataset readers,
label formats, relation measures, output formats, landmark file readers.

A :class:`Registry` is a read-only mapping name -> entry (so ``name in reg``, ``reg[name]``, ``sorted(reg)``
work as on a dict); entries are added with :meth:`Registry.register`, as a decorator or a call; the strict
:meth:`Registry.lookup` raises :class:`~augcn_pyg.core.errors.InputError` with the choices listed; and
:meth:`Registry.choices` is what a CLI option's ``click.Choice`` and a config check take, so no choice list
is ever written twice.

>>> MEASURES = Registry("relation measure")
>>> @MEASURES.register("phi")
... def phi(counts): ...
>>> MEASURES.lookup("phi") is phi
True
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Generic, Iterator, TypeVar

from augcn_pyg.core.errors import InputError

T = TypeVar("T")


class Registry(Mapping, Generic[T]):
    """Entries by name, in registration order. ``kind`` names an entry in messages ("relation layer")."""

    def __init__(self, kind: str, lowercase: bool = False):
        self.kind = kind
        self.lowercase = lowercase  # names are matched without case (dataset names typed by users)
        self._entries: dict[str, T] = {}

    def _key(self, name: str) -> str:
        return str(name).lower() if self.lowercase else str(name)

    def register(self, name: str, entry: T | None = None) -> Callable[[T], T] | T:
        """``reg.register("x", entry)``, or ``@reg.register("x")`` over a function or class. A name is
        registered once: a second registration is a programming error (ValueError)."""

        def add(item: T) -> T:
            key = self._key(name)
            if key in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[key] = item
            return item

        return add(entry) if entry is not None else add

    def lookup(self, name: str, where: str = "") -> T:
        """The entry called ``name``; an unknown name raises InputError listing the choices (and ``where``)."""
        try:
            return self._entries[self._key(name)]
        except KeyError:
            suffix = f": {where}" if where else ""
            raise InputError(f"unknown {self.kind} {name!r}; choose from {', '.join(self.choices())}{suffix}") from None

    def choices(self) -> list[str]:
        """The registered names, in registration order (what ``click.Choice`` and config checks take)."""
        return list(self._entries)

    def __getitem__(self, name: str) -> T:
        return self._entries[self._key(name)]

    def __delitem__(self, name: str) -> None:
        """Remove an entry (e.g. one a test or a notebook registered for a while)."""
        del self._entries[self._key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
