"""Where ragkit keeps its own files for one collection: the ingest manifest, the store lock, the keyword index.

The folder is pipeline configuration (``state:``), not the store's business.
Left unset, it is the store's own folder when the store says its data is on
this machine (``describe()["path"]``), so the files move and are deleted with
it; for a store on a server it is ``.ragkit/state/<host>_<port>``, named after
the server so that two servers' collections of one name never share a manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ragkit.stores.base import VectorStore

MANIFEST = "manifest.sqlite"
LOCK = "lock"
INDEX = "index-{type}"  # the keyword index's folder, per index type
# Where the files of a store on a server go unless the pipeline's ``state`` says otherwise.
STATE_ROOT = Path(".ragkit") / "state"


@dataclass(frozen=True)
class StateFiles:
    """The folder and the collection whose files ``path`` names: ``<folder>/<collection>.<name>``."""

    folder: Path
    collection: str

    def path(self, name: str) -> Path:
        return self.folder / f"{self.collection}.{name}"

    @classmethod
    def of(cls, configured: str | None, store: VectorStore) -> StateFiles:
        """The files for ``store``: in ``configured`` if given, else beside its data, else under ``STATE_ROOT``."""
        where = store.describe()
        collection = str(where.get("collection", "ragkit"))
        if configured:
            return cls(Path(configured), collection)
        if "path" in where:
            return cls(Path(str(where["path"])), collection)
        address = urlsplit(str(where.get("server", ""))).netloc or "store"
        return cls(STATE_ROOT / re.sub(r"[^A-Za-z0-9.-]", "_", address), collection)
