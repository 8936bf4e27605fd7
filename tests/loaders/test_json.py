"""JsonLoader: every value with its key path; a JSON file one document, a JSON Lines file one per line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.json import JsonLoader
from ragkit.types import Document, content_hash

CATALOGUE = {
    "title": "Chandlery catalogue",
    "updated": "2024-05",
    "items": [
        {"sku": "R-10", "name": "Mooring rope", "price": 24.5, "in_stock": True, "tags": ["rope", ""], "note": None},
        {"sku": "F-2", "name": "Fender", "size": {"length_cm": 60}},
    ],
    "shop": {"city": "Bergen"},
}


def _load(tmp_path: Path, name: str, text: str) -> list[Document]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return JsonLoader().load(path.read_bytes(), f"data/{name}")


def test_values_with_their_key_paths_a_paragraph_per_top_level_container(tmp_path: Path) -> None:
    text = json.dumps(CATALOGUE, indent=2)
    [document] = _load(tmp_path, "catalogue.json", text)
    assert document.text == (
        "title: Chandlery catalogue\n"
        "updated: 2024-05\n\n"
        "items[0].sku: R-10\n"
        "items[0].name: Mooring rope\n"
        "items[0].price: 24.5\n"
        "items[0].in_stock: true\n"
        "items[0].tags[0]: rope\n"
        "items[1].sku: F-2\n"
        "items[1].name: Fender\n"
        "items[1].size.length_cm: 60\n\n"
        "shop.city: Bergen"
    )
    assert document.metadata == {
        "source": "data/catalogue.json",
        "file_type": "json",
        "doc_hash": content_hash(text),
        "title": "Chandlery catalogue",
    }


def test_a_top_level_array_is_a_paragraph_per_record(tmp_path: Path) -> None:
    [document] = _load(tmp_path, "crew.json", json.dumps([{"name": "Ann"}, {"name": "Ole"}, "loose note"]))
    assert document.text == "[0].name: Ann\n\n[1].name: Ole\n\n[2]: loose note"
    assert "title" not in document.metadata


def test_json_lines_one_document_per_line_numbered(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = [
        json.dumps({"question": "Where is the fuel dock?", "answer": "Pier 3"}),
        "",
        "{not json",
        json.dumps({"question": "Opening hours?", "answer": "06-22", "meta": {"id": 7}}),
        json.dumps({"empty": None}),
    ]
    with caplog.at_level(logging.WARNING, logger="ragkit.loaders.json"):
        first, fourth = _load(tmp_path, "faq.jsonl", "\n".join(lines) + "\n")
    assert first.text == "question: Where is the fuel dock?\nanswer: Pier 3"
    assert fourth.text == "question: Opening hours?\nanswer: 06-22\n\nmeta.id: 7"
    assert [(d.metadata["page"], d.metadata["pages"], d.metadata["file_type"]) for d in (first, fourth)] == [
        (1, 5, "jsonl"),
        (4, 5, "jsonl"),
    ]
    assert "data/faq.jsonl: line 3: invalid JSON" in caplog.text


def test_nesting_deeper_than_recursion_allows_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="nested too deeply"):
        _load(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("broken.json", '{"a": ', "invalid JSON: JSONDecodeError: Expecting value: line 1 column 7"),
        ("nulls.json", '{"a": null, "b": [], "c": "  "}', "no text values in the JSON"),
        ("pretty.jsonl", json.dumps({"a": 1}, indent=2), "line 1: invalid JSON"),
        ("nulls.ndjson", "null\n{}\n", "no text values in the JSON Lines"),
        ("empty.json", "", "empty file"),
    ],
)
def test_bad_files_give_one_line_reasons(tmp_path: Path, name: str, text: str, reason: str) -> None:
    with pytest.raises(LoadError, match=reason) as error:
        _load(tmp_path, name, text)
    assert "\n" not in str(error.value)


def test_config() -> None:
    assert registry.get("loader", "json") is JsonLoader
    assert JsonLoader.extensions == (".json", ".jsonl", ".ndjson")
    with pytest.raises(ValidationError):
        JsonLoader.Config(keys=["name"])
