"""Keyword indexes: find chunks by the words they contain, beside the vector store."""

# The built-in index types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "bm25": "ragkit.indexes.bm25:BM25Index",
}
