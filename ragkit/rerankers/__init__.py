"""Rerankers: re-score the retriever's candidates with a stronger, slower model."""
