"""Chunkers: split documents into pieces sized for the embedder."""

# The built-in chunker types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "recursive": "ragkit.chunkers.recursive:RecursiveChunker",
    "sentence": "ragkit.chunkers.sentence:SentenceChunker",
}
