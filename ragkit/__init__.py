"""ragkit: retrieval-augmented generation over your own documents with a local language model."""

from ragkit.config import ConfigError, PipelineConfig, load_yaml
from ragkit.ingest.manifest import SettingsChangedError, StoreLockedError
from ragkit.answering import TokenStream
from ragkit.pipeline import RAG
from ragkit.stores.base import StoreUnavailableError
from ragkit.types import Answer, Chunk, Document, Failed, Hit, IngestReport

__all__ = [
    "RAG",
    "Answer",
    "Chunk",
    "ConfigError",
    "Document",
    "Failed",
    "Hit",
    "IngestReport",
    "PipelineConfig",
    "SettingsChangedError",
    "StoreLockedError",
    "StoreUnavailableError",
    "TokenStream",
    "load_yaml",
]
__version__ = "0.1.0"
