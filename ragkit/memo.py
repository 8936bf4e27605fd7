"""A small thread-safe memo of the latest results, for work a hot path would otherwise repeat."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class Memo(Generic[Key, Value]):
    """The ``size`` most recently used results by key; a server's worker threads may share one."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict[Key, Value] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key, make: Callable[[], Value]) -> Value:
        return self.get_many([key], lambda missing: [make()])[0]

    def get_many(self, keys: Sequence[Key], make: Callable[[list[Key]], Sequence[Value]]) -> list[Value]:
        """The value of each key, ``make`` called once for all the keys not held (so a batch stays a batch)."""
        with self._lock:
            found = {key: self._items[key] for key in keys if key in self._items}
            for key in found:
                self._items.move_to_end(key)
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:  # made outside the lock: it may be slow, and two threads making one key is harmless
            made = dict(zip(missing, make(missing), strict=True))
            with self._lock:
                self._items.update(made)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            found.update(made)
        return [found[key] for key in keys]
