"""Small-to-big: a retrieved chunk widened by its neighbours in the same document before the prompt is built.

A chunk is sized for the embedder, not for the reader: the sentence that
answers can sit just past its edge. Each hit gets the chunks at the ordinals
around its own, from the same document (root, source and page), joined by their
character offsets so that the chunker's overlap is not repeated. The hit keeps
its id, score and metadata: the citation still names the chunk that was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ragkit.stores.base import VectorStore
from ragkit.types import Chunk, Hit, Where


def widen(hits: Sequence[Hit], store: VectorStore, neighbours: int) -> list[Hit]:
    """Each hit with up to ``neighbours`` chunks of its document on each side joined to its text."""
    if neighbours <= 0:
        return list(hits)
    return [_widened(hit, store, neighbours) for hit in hits]


def _widened(hit: Hit, store: VectorStore, neighbours: int) -> Hit:
    ordinal = hit.metadata.get("ordinal")
    if not isinstance(ordinal, int):
        return hit
    around = [n for n in range(ordinal - neighbours, ordinal + neighbours + 1) if n >= 0 and n != ordinal]
    found = store.chunks_at(_document(hit), around)
    pieces = sorted([*found, Chunk(hit.text, hit.metadata, hit.id)], key=lambda chunk: chunk.metadata["ordinal"])
    return replace(hit, text=_joined(pieces))


def _document(hit: Hit) -> Where:
    """The filter naming the hit's document: a PDF page is a document of its own."""
    keys = ("root", "source", "page")
    return {key: hit.metadata[key] for key in keys if hit.metadata.get(key) is not None}


def _joined(pieces: Sequence[Chunk]) -> str:
    """Consecutive chunks as one text: where offsets show an overlap, the repeated start of the next is cut."""
    text, end = pieces[0].text, pieces[0].metadata.get("end")
    for piece in pieces[1:]:
        start = piece.metadata.get("start")
        exact = isinstance(start, int) and isinstance(end, int) and piece.metadata.get("end") == start + len(piece.text)
        if exact and end > start:
            text += piece.text[end - start :]
        else:
            text += ("" if exact and end == start else "\n") + piece.text
        end = piece.metadata.get("end")
    return text
