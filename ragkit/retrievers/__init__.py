"""Retrievers: find the passages that answer a question."""

# The built-in retriever types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "dense": "ragkit.retrievers.dense:DenseRetriever",
    "keyword": "ragkit.retrievers.keyword:KeywordRetriever",
    "hybrid": "ragkit.retrievers.hybrid:HybridRetriever",
}
