"""ragkit: retrieval-augmented generation over your own documents with a local language model."""

from ragkit.config import ConfigError, PipelineConfig, load_yaml
from ragkit.pipeline import RAG, TokenStream
from ragkit.types import Answer, Chunk, Document, Hit, IngestReport

__all__ = [
    "RAG",
    "Answer",
    "Chunk",
    "ConfigError",
    "Document",
    "Hit",
    "IngestReport",
    "PipelineConfig",
    "TokenStream",
    "load_yaml",
]
__version__ = "0.1.0"
