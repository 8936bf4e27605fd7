"""Keyword indexes: find chunks by the words they contain, beside the vector store."""
