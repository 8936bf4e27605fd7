"""Embedders: turn text into vectors."""

# The built-in embedder types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "sentence-transformers": "ragkit.embedders.sentence_transformers:SentenceTransformerEmbedder",
}
