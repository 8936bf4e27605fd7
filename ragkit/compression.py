"""Shorter prompts that keep the answer: only the sentences of each passage closest to the question.

On a CPU the prefill of the prompt is most of an answer's time, and it grows
with every passage; a small model also reads a long context worse. Each passage
is cut into sentences (lines too: a table row or a list item is a unit of its
own, while a hard-wrapped sentence is joined back); the question and every
sentence are embedded in one batch by the pipeline's embedder, and each passage keeps its ``keep`` sentences closest to
the question, each with the one after it (a name is often followed by its
value), in their order, a gap marked by an ellipsis. The ``whole`` best-ranked
passages are left uncut: the best passage holds the answer most often, and the
cut lost it there more than anywhere else. The hit keeps its id, score and
metadata: the citation still names the chunk that was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ragkit.embedders.base import Embedder
from ragkit.grounding import sentences
from ragkit.types import Hit

GAP = " … "


def compress(question: str, hits: Sequence[Hit], embedder: Embedder, keep: int, whole: int = 0) -> list[Hit]:
    """Each hit after the first ``whole`` (best first) cut to its ``keep`` sentences closest to the question and the
    sentence after each; ``keep`` 0 keeps all."""
    if keep <= 0:
        return list(hits)
    kept, hits = list(hits[:whole]), hits[whole:]
    units = [sentences(hit.text) for hit in hits]
    flat = [unit for passage in units for unit in passage]
    if not flat:
        return [*kept, *hits]
    scores = embedder.embed_documents(flat) @ embedder.embed_queries([question])[0]
    compressed, offset = kept, 0
    for hit, passage in zip(hits, units):
        passage_scores, offset = scores[offset : offset + len(passage)], offset + len(passage)
        best = np.argsort(-passage_scores, kind="stable")[:keep]
        chosen = sorted({index for top in best for index in (int(top), int(top) + 1) if index < len(passage)})
        compressed.append(hit if len(chosen) == len(passage) else replace(hit, text=_joined(passage, chosen)))
    return compressed


def _joined(units: Sequence[str], chosen: Sequence[int]) -> str:
    text = units[chosen[0]]
    for before, index in zip(chosen, chosen[1:]):
        text += (" " if index == before + 1 else GAP) + units[index]
    return text
