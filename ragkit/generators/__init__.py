"""Generators: language models that write the answer."""
