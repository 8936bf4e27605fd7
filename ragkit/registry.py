"""Maps the short ``type:`` names used in pipeline YAML to stage classes.

Built-in stages are listed as import paths so that validating a pipeline does
not import torch or chromadb. Third-party packages add stages through the
entry-point group ``ragkit.stages`` with names of the form ``KIND.NAME``::

    [project.entry-points."ragkit.stages"]
    "chunker.fixed" = "my_package.chunkers:FixedChunker"
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
ENTRY_POINT_GROUP = "ragkit.stages"

KINDS = ("loader", "chunker", "embedder", "store", "index", "retriever", "reranker", "augmenter", "generator")

_BUILTINS: dict[str, dict[str, str]] = {
    "loader": {
        "text": "ragkit.loaders.text:TextLoader",
        "markdown": "ragkit.loaders.markdown:MarkdownLoader",
        "html": "ragkit.loaders.html:HtmlLoader",
        "pdf": "ragkit.loaders.pdf:PdfLoader",
        "docx": "ragkit.loaders.docx:DocxLoader",
        "pptx": "ragkit.loaders.pptx:PptxLoader",
        "xlsx": "ragkit.loaders.xlsx:XlsxLoader",
        "csv": "ragkit.loaders.csv:CsvLoader",
        "epub": "ragkit.loaders.epub:EpubLoader",
        "rst": "ragkit.loaders.rst:RstLoader",
        "json": "ragkit.loaders.json:JsonLoader",
    },
    "chunker": {
        "recursive": "ragkit.chunkers.recursive:RecursiveChunker",
        "sentence": "ragkit.chunkers.sentence:SentenceChunker",
    },
    "embedder": {"sentence-transformers": "ragkit.embedders.sentence_transformers:SentenceTransformerEmbedder"},
    "store": {"chroma": "ragkit.stores.chroma:ChromaStore"},
    "index": {"bm25": "ragkit.indexes.bm25:BM25Index"},
    "retriever": {
        "dense": "ragkit.retrievers.dense:DenseRetriever",
        "keyword": "ragkit.retrievers.keyword:KeywordRetriever",
        "hybrid": "ragkit.retrievers.hybrid:HybridRetriever",
    },
    "reranker": {"cross-encoder": "ragkit.rerankers.cross_encoder:CrossEncoderReranker"},
    "augmenter": {"template": "ragkit.augmenters.template:TemplateAugmenter"},
    "generator": {
        "auto": "ragkit.generators.auto:AutoGenerator",
        "transformers": "ragkit.generators.huggingface:TransformersGenerator",
        "llamacpp": "ragkit.generators.llamacpp:LlamaCppGenerator",
        "openai": "ragkit.generators.openai:OpenAIGenerator",
    },
}

_registered: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}
_plugins: dict[str, dict[str, EntryPoint]] = {kind: {} for kind in KINDS}
_plugins_loaded = False


class UnknownStageError(LookupError):
    """Raised for a ``type:`` name that no built-in stage or plugin provides."""


def register(kind: str, name: str, cls: type) -> None:
    """Register a stage class in-process (plugins normally use the entry-point group)."""
    _check_kind(kind)
    _registered[kind][name] = cls


def names(kind: str) -> list[str]:
    """Every ``type:`` name available for a stage kind, sorted."""
    _check_kind(kind)
    _load_plugins()
    return sorted(set(_BUILTINS.get(kind, {})) | set(_plugins[kind]) | set(_registered[kind]))


def get(kind: str, name: str) -> type:
    """The class registered as ``name`` for ``kind``; the error lists the valid names."""
    _check_kind(kind)
    _load_plugins()
    if name in _registered[kind]:
        return _registered[kind][name]
    if name in _plugins[kind]:
        plugin: type = _plugins[kind][name].load()
        _registered[kind][name] = plugin
        return plugin
    target = _BUILTINS.get(kind, {}).get(name)
    if target is None:
        raise UnknownStageError(
            f"unknown {kind} type {name!r}; registered {kind} types: {', '.join(names(kind))}"
        )
    module_name, _, attr = target.partition(":")
    cls: type = getattr(importlib.import_module(module_name), attr)
    _registered[kind][name] = cls
    return cls


def refresh() -> None:
    """Forget loaded plugins, so packages installed while the process runs are seen."""
    global _plugins_loaded
    _plugins_loaded = False
    for kind in KINDS:
        for name in _plugins[kind]:
            _registered[kind].pop(name, None)
        _plugins[kind].clear()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown stage kind {kind!r}; kinds are: {', '.join(KINDS)}")


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        kind, _, name = entry.name.partition(".")
        if kind not in KINDS or not name:
            raise ValueError(
                f"entry point {entry.name!r} in group {ENTRY_POINT_GROUP!r} must be named "
                f"KIND.NAME with KIND one of: {', '.join(KINDS)}"
            )
        _plugins[kind][name] = entry
