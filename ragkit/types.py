"""Plain data types shared by every stage: the ground floor of ragkit.

They hold data only, so that any stage can import them without pulling in
another stage's implementation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

Metadata = dict[str, Any]
Scalar = str | int | float | bool
# A metadata filter: ``{"source": "a.md"}``, ``{"file_type": "pdf"}``, or several keys at once (all must match).
Where = dict[str, Any]


def content_hash(text: str | bytes) -> str:
    """A short, stable fingerprint used for documents and chunk ids."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def stored_metadata(metadata: Metadata) -> dict[str, Scalar]:
    """Metadata as stores and indexes keep it: scalar values only, ``None`` dropped, anything else as text.

    Every place that stores chunks uses this, so a hit's metadata and the
    filters that match it are the same whichever index found it.
    """
    return {
        key: value if isinstance(value, (str, int, float, bool)) else str(value)
        for key, value in metadata.items()
        if value is not None
    }


@dataclass
class Document:
    """The text of one file, or of one part of a file that holds several (a PDF page, a slide).

    ``metadata`` always has ``source`` (path relative to the ingested root,
    with forward slashes), ``file_type`` and ``doc_hash``; ``title`` where the
    file has one. A part has ``page``, its 1-based position in the file, and
    ``pages``: a PDF's page, a slide, a sheet (also named in ``sheet``), an
    EPUB chapter (``chapter``: its heading), a JSON Lines line. Root, source
    and page identify a document (chunk ids, neighbours), so parts never share
    them. The pipeline adds ``root`` (the ingested folder, absolute) before
    chunking.
    """

    text: str
    metadata: Metadata


@dataclass
class Chunk:
    """A piece of a document sized for the embedder.

    ``metadata`` is the document's, plus ``ordinal`` (position within the
    document), ``start`` and ``end`` (character offsets into the document).
    ``id`` is computed once, from the text and the metadata the chunk is made
    with (``chunk_id``), unless given, as a store gives the ids it keeps.
    """

    text: str
    metadata: Metadata
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = chunk_id(self.text, self.metadata)


def chunk_id(text: str, metadata: Metadata) -> str:
    """Deterministic id so that re-ingesting the same file upserts, never duplicates.

    The root is part of it: ``a.md`` under two ingested folders is two files.
    """
    key = "\x1f".join(
        [
            str(metadata.get("root", "")),
            str(metadata.get("source", "")),
            str(metadata.get("page", "")),
            str(metadata.get("ordinal", "")),
            text,
        ]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass
class Hit:
    """A retrieved chunk with its ranking score (higher is closer).

    ``score`` is the score of whatever ranked it last: cosine similarity for
    dense retrieval, BM25 for keyword search, the fused score for hybrid, the
    reranker's score after reranking. ``scores`` keeps each component by name
    (``dense``, ``keyword``, ``rrf``, ``rerank``; ``matched``, the share of the query's
    keyword terms the chunk contains), so a caller can see why a
    passage ranked where it did, or calibrate a threshold on one of them.
    """

    id: str
    text: str
    score: float
    metadata: Metadata
    scores: dict[str, float] = field(default_factory=dict)
    # The stored vector, when the search was asked for it (maximal marginal relevance needs it); never compared.
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if page is not None else None

    @property
    def title(self) -> str:
        """The document's (or page's) title where the loader found one, else empty."""
        title = self.metadata.get("title")
        return title if isinstance(title, str) else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "page": self.page,
            "score": round(self.score, 4),
            "scores": {name: round(value, 4) for name, value in self.scores.items()},
            "text": self.text,
            "metadata": self.metadata,
        }


@dataclass
class Prompt:
    """What the augmenter hands the generator: chat messages and the passages they hold."""

    messages: list[dict[str, str]]
    passages: list[Hit]
    dropped: int = 0


@dataclass
class Citation:
    """A passage that supports the answer, by its number in the prompt (``[n]``), traced back to its chunk.

    ``span`` is the passage's sentence that holds most of what the supported
    answer sentence says; ``support`` the share of that sentence's new terms
    the passage holds (``ragkit.grounding``).
    """

    number: int
    source: str
    page: int | None
    hit_id: str
    span: str = ""
    support: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "source": self.source,
            "page": self.page,
            "hit_id": self.hit_id,
            "span": self.span,
            "support": self.support,
        }


@dataclass
class Answer:
    """The result of ``RAG.ask``: the text, the passages it was given, and the exact prompt.

    ``citations`` are the passages that support the text, found by checking
    each of its sentences against them (``ragkit.grounding``), whether or not
    the model wrote ``[n]``; ``invalid_citations`` counts the numbers the model
    cited that no passage has or that do not support its sentence (dropped).
    ``grounded`` says the passages hold what the answer says (``support``: the
    share of its terms beyond the question's that they hold). ``abstained`` is
    True when the documents do not answer: no passage reached the prompt, none
    holds an identifier the question names, the model said it does not know,
    or its answer was not grounded; ``text`` then
    says so. ``repaired`` names what replaced a degenerate reply (an empty one,
    only ``[1]``, a copied heading): ``"regenerated"``, or ``"abstained"`` when the retry was
    degenerate too; ``"completed"`` when a bare value was said again as a sentence.
    """

    question: str
    text: str
    sources: list[Hit]
    prompt: str
    timings: dict[str, float] = field(default_factory=dict)
    citations: list[Citation] = field(default_factory=list)
    invalid_citations: int = 0
    abstained: bool = False
    grounded: bool = False
    support: float = 0.0
    repaired: str | None = None
    draft: str = ""  # the model's own reply where ``text`` is not it (abstained on, or repaired)
    # What the passages were retrieved for: the question, or in a conversation the follow-up made standalone.
    query: str = ""

    def __post_init__(self) -> None:
        if not self.query:
            self.query = self.question

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "abstained": self.abstained,
            "grounded": self.grounded,
            "support": round(self.support, 4),
            "repaired": self.repaired,
            "draft": self.draft,
            "citations": [citation.to_dict() for citation in self.citations],
            "invalid_citations": self.invalid_citations,
            "sources": [hit.to_dict() for hit in self.sources],
            "prompt": self.prompt,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass
class Failed:
    """A file that was not ingested, and the one-line reason why."""

    path: str
    reason: str


@dataclass
class Skipped:
    """A path the walk left alone on purpose (a symbolic link not followed, or one that leads nowhere), and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What one ``RAG.ingest`` call did (or, for a dry run, would do) to one root.

    Every file seen lands in exactly one of ``added``, ``updated``, ``unchanged``
    and ``failed``; ``removed`` lists files the store had that the folder no
    longer has. ``skipped`` lists the symbolic links the walk did not follow
    (they are not files seen). Paths are sources, relative to ``root``. A dry run loads no
    file, so a file it lists as added or updated may still fail for real.
    ``timings`` splits ``seconds`` into ``plan`` (walk and compare with the
    manifest), ``load`` (waiting for loaded files), ``chunk``, ``embed`` and
    ``write`` (store and manifest), so a slow ingest says where it went.
    """

    root: str = ""
    dry_run: bool = False
    files_seen: int = 0
    files_loaded: int = 0
    documents: int = 0
    chunks_written: int = 0
    chunks_removed: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "dry_run": self.dry_run,
            "files_seen": self.files_seen,
            "files_loaded": self.files_loaded,
            "documents": self.documents,
            "chunks_written": self.chunks_written,
            "chunks_removed": self.chunks_removed,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"path": f.path, "reason": f.reason} for f in self.failed],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "seconds": round(self.seconds, 3),
            "timings": {name: round(seconds, 3) for name, seconds in self.timings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestReport:
        """The report ``to_dict`` wrote (as ``POST /v1/ingest`` returns it), for ``ragkit ingest --via``."""
        fields = {**data, "failed": [Failed(**f) for f in data["failed"]], "skipped": [Skipped(**s) for s in data["skipped"]]}
        return cls(**fields)
