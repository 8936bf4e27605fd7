"""CsvLoader: rows with their headers, whatever the delimiter or encoding."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.csv import CsvLoader
from ragkit.types import Document, content_hash


def _load(tmp_path: Path, name: str, data: bytes) -> Document:
    path = tmp_path / name
    path.write_bytes(data)
    [document] = CsvLoader().load(path.read_bytes(), f"tables/{name}")
    return document


def test_rows_carry_their_headers(tmp_path: Path) -> None:
    document = _load(tmp_path, "crew.csv", b'Name,Role,Years\nAnn Berg,Skipper,12\n"Lund, Ole",Engineer,\n')
    assert document.text == "Name: Ann Berg; Role: Skipper; Years: 12\nName: Lund, Ole; Role: Engineer"
    assert document.metadata == {
        "source": "tables/crew.csv",
        "file_type": "csv",
        "doc_hash": content_hash('Name,Role,Years\nAnn Berg,Skipper,12\n"Lund, Ole",Engineer,\n'),
    }


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("semicolons.csv", "Stadt;Preis\nKöln;3,50 €\nMünchen;4,10 €\n".encode("cp1252")),
        ("tabs.tsv", "Stadt\tPreis\nKöln\t3,50 €\nMünchen\t4,10 €\n".encode()),
    ],
)
def test_delimiter_and_legacy_encoding_are_detected(tmp_path: Path, name: str, data: bytes) -> None:
    document = _load(tmp_path, name, data)
    assert document.text == "Stadt: Köln; Preis: 3,50 €\nStadt: München; Preis: 4,10 €"
    assert document.metadata["file_type"] == name.rsplit(".", 1)[1]


def test_a_single_column_and_a_header_only_file(tmp_path: Path) -> None:
    assert _load(tmp_path, "ports.csv", b"Port\nBergen\nOslo\n").text == "Port: Bergen\nPort: Oslo"
    assert _load(tmp_path, "header.csv", b"Port,Country\n").text == "Port; Country"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01\x02\x03" * 50, "binary file"),
        (b",,,\n,,\n", "no text in the table"),
        (b'Notes\n"' + b"x" * 200_000 + b'"\n', r"unreadable \.csv: Error: field larger than field limit"),
    ],
)
def test_bad_files_give_reasons(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        _load(tmp_path, "bad.csv", data)


def test_config() -> None:
    assert registry.get("loader", "csv") is CsvLoader
    assert CsvLoader.extensions == (".csv", ".tsv")
    with pytest.raises(ValidationError):
        CsvLoader.Config(delimiter=";")
