"""Prompt augmenters: put retrieved passages into the generator's prompt."""
