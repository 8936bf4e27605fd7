"""Loaders: read files of one format into ``Document`` objects."""
