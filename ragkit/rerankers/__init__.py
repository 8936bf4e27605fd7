"""Rerankers: re-score the retriever's candidates with a stronger, slower model."""

# The built-in reranker types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "cross-encoder": "ragkit.rerankers.cross_encoder:CrossEncoderReranker",
}
