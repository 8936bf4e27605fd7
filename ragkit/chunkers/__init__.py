"""Chunkers: split documents into pieces sized for the embedder."""
