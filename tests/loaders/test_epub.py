"""EpubLoader on books ebooklib writes: one document per chapter, cleaned as HTML pages are; bad files refused."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from ebooklib import epub
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.epub import EpubLoader
from ragkit.types import Document, content_hash

from formats import bad_office_file, make_docx, make_epub
from paths import REPO


def _load(path: Path) -> list[Document]:
    return EpubLoader().load(path.read_bytes(), f"books/{path.name}")


def _book(path: Path, chapters: list[str]) -> Path:
    book = epub.EpubBook()
    book.set_identifier("log-1")
    book.set_title("Ship's Log")
    items = []
    for number, body in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=f"Part {number}", file_name=f"part{number}.xhtml")
        item.content = body
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = items
    epub.write_epub(str(path), book)
    return path


def test_one_document_per_chapter_in_reading_order_without_the_navigation(tmp_path: Path) -> None:
    path = make_epub(tmp_path / "stories.epub")
    storm, calm = _load(path)
    assert storm.text == "The Storm\n\nThe gale broke the mast off Lindesnes."
    assert calm.text == "The Calm\n\nFor three days the sea lay flat."
    assert storm.metadata == {
        "source": "books/stories.epub",
        "file_type": "epub",
        "doc_hash": content_hash(path.read_bytes()),
        "title": "Sea Stories",
        "page": 1,
        "pages": 2,
        "chapter": "The Storm",
    }
    assert (calm.metadata["page"], calm.metadata["chapter"]) == (2, "The Calm")


def test_chapters_are_cleaned_as_html_pages_are(tmp_path: Path) -> None:
    path = _book(
        tmp_path / "log.epub",
        [
            (
                '<header><h1>Day one</h1></header><nav><a href="part2.xhtml">Next</a></nav>'
                "<p>Wind   from the\n west.</p><script>track()</script><p hidden>draft</p>"
                "<table><tr><th>Hour</th><th>Knots</th></tr><tr><td>06</td><td>12</td></tr></table>"
            ),
            '<div><img src="cover.png" alt=""/></div>',  # no text: skipped, numbering kept
            "<p>Anchored in Ålesund.</p>",
        ],
    )
    day_one, last = _load(path)
    assert day_one.text == "Wind from the west.\n\nHour | Knots\n06 | 12"
    assert day_one.metadata["chapter"] == "Day one"  # read before the header went
    assert (last.text, last.metadata["page"], last.metadata["pages"]) == ("Anchored in Ålesund.", 3, 3)
    assert "chapter" not in last.metadata


def test_a_book_without_text_is_an_error(tmp_path: Path) -> None:
    path = _book(tmp_path / "pictures.epub", ['<div><img src="a.png" alt=""/></div>'])
    with pytest.raises(LoadError, match="no text in any chapter"):
        _load(path)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file"),
        ("text", "not a .epub file: it is not a ZIP archive"),
        ("truncated", "damaged or truncated ZIP archive"),
        ("other-zip", "not a .epub file: a ZIP archive without META-INF/container.xml"),
        ("legacy", "legacy binary Office file (OLE2), not .epub"),
    ],
)
def test_bad_files_give_one_line_reasons(tmp_path: Path, kind: str, reason: str) -> None:
    bad = tmp_path / "bad.epub"
    bad.write_bytes(bad_office_file(kind, make_epub(tmp_path / "good.epub")))
    with pytest.raises(LoadError, match=re.escape(reason)):
        _load(bad)


def test_a_broken_package_inside_a_good_zip_is_unreadable(tmp_path: Path) -> None:
    """The container points at a package document that is not there: ebooklib's error, in one line."""
    path = tmp_path / "hollow.epub"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
    with pytest.raises(LoadError, match=r"^unreadable \.epub: EpubException") as error:
        _load(path)
    assert "\n" not in str(error.value)


def test_a_document_named_epub_is_named_for_what_it_is(tmp_path: Path) -> None:
    renamed = make_docx(tmp_path / "handbook.docx").rename(tmp_path / "handbook.epub")
    with pytest.raises(LoadError, match=r"a \.docx file named \.epub"):
        _load(renamed)


def test_a_book_zipped_inside_a_folder_is_read_from_that_folder(tmp_path: Path) -> None:
    """The Debian Edu manuals keep everything under ``epub/``; ebooklib looks for META-INF/ at the top only."""
    good = make_epub(tmp_path / "good.epub")
    nested = tmp_path / "nested.epub"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(nested, "w") as archive:
        archive.writestr("epub/", "")
        for member in source.infolist():
            archive.writestr("epub/" + member.filename, source.read(member))
    read = _load(nested)
    assert [(doc.text, doc.metadata["chapter"]) for doc in read] == [(doc.text, doc.metadata["chapter"]) for doc in _load(good)]


@pytest.fixture(scope="module")
def debian_edu_manuals(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The Chinese Debian Edu manuals as Debian ships them (scripts/zh_epubs.sh), real EPUBs we did not write."""
    if shutil.which("apt-get") is None:
        pytest.skip("fetching Debian's documentation package needs apt-get")
    out = tmp_path_factory.mktemp("zh-epubs")
    subprocess.run(["bash", str(REPO / "scripts" / "zh_epubs.sh"), str(out)], check=True, capture_output=True)
    return sorted(out.glob("*.epub"))


def test_the_chinese_debian_edu_manuals_are_read_chapter_by_chapter(debian_edu_manuals: list[Path]) -> None:
    assert debian_edu_manuals
    for path in debian_edu_manuals:
        chapters = _load(path)
        numbers = [chapter.metadata["page"] for chapter in chapters]
        assert len(chapters) >= 20 and numbers == sorted(set(numbers)), path.name
        title = chapters[0].metadata["title"]
        assert "Debian Edu" in title and "手册" in title
        assert all(chapter.metadata["chapter"] for chapter in chapters)
        assert any("Debian Edu 又名 Skolelinux" in chapter.text for chapter in chapters)
        assert sum(1 for chapter in chapters for char in chapter.text if "\u4e00" <= char <= "\u9fff") > 10_000


def test_config() -> None:
    assert registry.get("loader", "epub") is EpubLoader
    assert EpubLoader.extensions == (".epub",)
    with pytest.raises(ValidationError):
        EpubLoader.Config(chapters="all")
