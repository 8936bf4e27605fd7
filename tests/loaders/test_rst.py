"""RstLoader: reStructuredText kept as written, the title taken from the first section title."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.rst import RstLoader
from ragkit.types import Document, content_hash

GUIDE = """.. A comment the title detection must not take.

=================
 Mooring a Ketch
=================

:Author: The harbor office

Approach
--------

Come in against the tide; a transition follows.

----

Lines
~~~~~

Double the bow line in a gale::

    cleat -> fairlead
    ---------------
"""


def _load(tmp_path: Path, text: str, name: str = "guide.rst") -> Document:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    [document] = RstLoader().load(path.read_bytes(), f"docs/{name}")
    return document


def test_text_kept_and_the_overlined_title_found(tmp_path: Path) -> None:
    document = _load(tmp_path, GUIDE)
    assert document.text == GUIDE
    assert document.metadata == {
        "source": "docs/guide.rst",
        "file_type": "rst",
        "doc_hash": content_hash(GUIDE),
        "title": "Mooring a Ketch",
    }


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Intro\n=====\n\nText.\n", "Intro"),
        ("Intro paragraph.\n\nSetup\n***\n\nShort underline, not a title.\n\nUsage\n*****\n", "Usage"),
        ("No titles here, only a transition.\n\n--------\n\nMore text.\n", None),
        ("    indented literal\n    ----------------\n", None),
    ],
)
def test_a_title_needs_an_underline_as_long_as_it(tmp_path: Path, text: str, title: str | None) -> None:
    assert _load(tmp_path, text).metadata.get("title") == title


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="empty file"):
        _load(tmp_path, "\n\n")


def test_config() -> None:
    assert registry.get("loader", "rst") is RstLoader
    assert RstLoader.extensions == (".rst", ".rest")
    with pytest.raises(ValidationError):
        RstLoader.Config(docutils=True)
