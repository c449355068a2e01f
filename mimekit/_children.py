"""The live ``children`` list of a multipart :class:`~mimekit.model.Part`.

A ``list`` subclass that sets each child's ``parent`` and tells its owner whenever it
changes, so the owner regenerates its delimiter lines (and only those) on output.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

if TYPE_CHECKING:  # pragma: no cover
    from mimekit.model import Part

__all__ = ["_Children"]


class _Children(list["Part"]):
    """The ``children`` list of a multipart: a list that tells its owner when it changes."""

    def __init__(self, owner: Part, items: Iterable[Part] = ()) -> None:
        super().__init__(items)
        self._owner = owner
        for child in self:
            child.parent = owner

    def _changed(self) -> None:
        owner = self._owner
        added = [child for child in self if child.parent is not owner]
        for child in added:
            child.parent = owner
        for child in added:
            # RFC 2046 §5.1.1: a new part must not hold a delimiter line of any enclosing
            # multipart, or a re-parse would split it into more parts.
            child._avoid_boundary_collisions(child.to_bytes())
        owner._structure_changed()

    def append(self, item: Part) -> None:
        super().append(item)
        self._changed()

    def extend(self, items: Iterable[Part]) -> None:
        super().extend(items)
        self._changed()

    def insert(self, index: SupportsIndex, item: Part) -> None:
        super().insert(index, item)
        self._changed()

    def remove(self, item: Part) -> None:
        super().remove(item)
        self._changed()

    def pop(self, index: SupportsIndex = -1) -> Part:
        item = super().pop(index)
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def reverse(self) -> None:
        super().reverse()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._changed()

    @overload
    def __setitem__(self, index: SupportsIndex, value: Part) -> None: ...

    @overload
    def __setitem__(self, index: slice, value: Iterable[Part]) -> None: ...

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._changed()

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        super().__delitem__(index)
        self._changed()

    def __iadd__(self, items: Iterable[Part]) -> _Children:  # type: ignore[override,misc]  # noqa: PYI034
        super().__iadd__(items)
        self._changed()
        return self
