"""PdfLoader on generated and real-world PDFs: pages, titles, encryption, damage."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from fpdf import FPDF
from fpdf.enums import EncryptionMethod
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.pdf import PdfLoader
from ragkit.types import content_hash

IMAGE_ONLY = "no extractable text"


def _make_pdf(
    path: Path,
    pages: list[str],
    *,
    title: str | None = None,
    user_password: str | None = None,
) -> Path:
    """A real PDF with one page per entry; an empty entry makes a page without text."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    if title is not None:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(
            owner_password="owner-secret", user_password=user_password, encryption_method=EncryptionMethod.RC4
        )
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 50, 50)  # drawn, but no text
    pdf.output(str(path))
    return path


def _load(path: Path, **config: str) -> list:
    return PdfLoader(PdfLoader.Config(**config)).load(path.read_bytes(), f"pdf/{path.name}")


def test_one_document_per_page_with_page_metadata(tmp_path: Path) -> None:
    path = _make_pdf(
        tmp_path / "guide.pdf",
        ["Alpha page about chunking.", "Beta page about embeddings.", "Gamma page about reranking."],
        title="Retrieval Guide",
    )
    documents = _load(path)
    assert [d.metadata["page"] for d in documents] == [1, 2, 3]
    assert ["Alpha" in documents[0].text, "Beta" in documents[1].text, "Gamma" in documents[2].text] == [True] * 3
    doc_hash = content_hash(path.read_bytes())
    for document in documents:
        assert document.metadata == {
            "source": "pdf/guide.pdf",
            "file_type": "pdf",
            "doc_hash": doc_hash,
            "title": "Retrieval Guide",
            "page": document.metadata["page"],
            "pages": 3,
        }


def test_pages_without_text_are_skipped_but_numbering_is_kept(tmp_path: Path) -> None:
    path = _make_pdf(tmp_path / "gaps.pdf", ["First page text.", "", "Third page text."])
    documents = _load(path)
    assert [(d.metadata["page"], d.metadata["pages"]) for d in documents] == [(1, 3), (3, 3)]
    assert "title" not in documents[0].metadata


def test_pdf_without_any_text_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=IMAGE_ONLY):
        _load(_make_pdf(tmp_path / "blank.pdf", ["", ""]))


def test_password_protected_pdf(tmp_path: Path) -> None:
    path = _make_pdf(tmp_path / "locked.pdf", ["Secret minutes."], user_password="letmein")
    with pytest.raises(LoadError, match="encrypted PDF: password required"):
        _load(path)
    with pytest.raises(LoadError, match="configured password"):
        _load(path, password="wrong")
    assert "Secret minutes." in _load(path, password="letmein")[0].text


def test_owner_password_only_opens_with_the_empty_password(tmp_path: Path) -> None:
    path = _make_pdf(tmp_path / "restricted.pdf", ["Printing restricted only."], user_password="")
    assert "Printing restricted only." in _load(path)[0].text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"%PDF-1.4\nnot really a pdf", "unreadable PDF"),
        (b"PK\x03\x04zip archive", "unreadable PDF"),
    ],
)
def test_damaged_files_give_short_reasons(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        _load(path)


def test_corrupted_bytes_give_documents_or_load_error(tmp_path: Path) -> None:
    """pypdf raises many exception types on damage; the loader lets only LoadError out."""
    whole = _make_pdf(tmp_path / "whole.pdf", [f"Page {n} text." for n in range(1, 4)]).read_bytes()
    damaged = tmp_path / "damaged.pdf"
    outcomes = set()
    for seed in range(120):
        rng = random.Random(seed)
        data = bytearray(whole)
        for _ in range(3):
            data[rng.randrange(len(data))] = rng.randrange(256)
        damaged.write_bytes(bytes(data))
        try:
            outcomes.add(f"{len(_load(damaged))} pages")
        except LoadError as exc:
            outcomes.add(str(exc).split(":")[0])
    assert {"3 pages", "unreadable PDF"} <= outcomes


def test_config() -> None:
    assert registry.get("loader", "pdf") is PdfLoader
    assert PdfLoader.Config().password == ""
    with pytest.raises(ValidationError):
        PdfLoader.Config.model_validate({"ocr": True})


# Real-world files from pypdf's test resources (shared/badinputs).


def test_ocr_text_layer(badinputs: Path) -> None:
    documents = _load(badinputs / "Seige_of_Vicksburg_Sample_OCR.pdf")
    assert len(documents) == 6
    assert [d.metadata["page"] for d in documents] == list(range(1, 7))
    assert "VICKSBURG" in documents[0].text
    assert "  " not in documents[0].text  # justified-text space runs collapsed


@pytest.mark.parametrize("name", ["box.pdf", "imagemagick-CCITTFaxDecode.pdf"])
def test_image_only(badinputs: Path, name: str) -> None:
    with pytest.raises(LoadError, match=IMAGE_ONLY):
        _load(badinputs / name)


def test_rc4_empty_user_password_opens(badinputs: Path) -> None:
    [document] = _load(badinputs / "r2-empty-password.pdf")
    assert "pdf encryption test" in document.text
    assert "title" not in document.metadata  # its /Title is ""


def test_rc4_user_password(badinputs: Path) -> None:
    with pytest.raises(LoadError, match="password required"):
        _load(badinputs / "encrypted-file.pdf")
    assert _load(badinputs / "encrypted-file.pdf", password="test")[0].text


def test_aes_with_cryptography(badinputs: Path) -> None:
    with pytest.raises(LoadError, match="password required"):
        _load(badinputs / "crazyones-encrypted-256.pdf")
    assert "The Crazy Ones" in _load(badinputs / "crazyones-encrypted-256.pdf", password="password")[0].text
    assert "pdf encryption test" in _load(badinputs / "r6-user-password.pdf")[0].text


@pytest.mark.parametrize(
    ("name", "reason"), [("synthetic_empty.pdf", "empty file"), ("synthetic_truncated_R-data.pdf", "unreadable PDF")]
)
def test_empty_and_truncated(badinputs: Path, name: str, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        _load(badinputs / name)


def test_pypdf_warnings_are_silenced(badinputs: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(LoadError):
        _load(badinputs / "synthetic_truncated_R-data.pdf")
    assert not [record for record in caplog.records if record.name.startswith("pypdf")]
