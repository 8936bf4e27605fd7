"""Real .docx, .pptx, .xlsx and .epub files written by the libraries that read them, and bad ones of each.

Built on the fly rather than committed: the loader tests and the pipeline test
share them, and each shows in a few lines what the file holds.
"""

from __future__ import annotations

import datetime
import zipfile
from io import BytesIO
from pathlib import Path

# What every OLE2 compound file starts with: a legacy .doc/.xls/.ppt renamed to the new extension.
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def make_docx(path: Path) -> Path:
    """A handbook: a title, headings of two levels, paragraphs and a table of berths and their fees."""
    import docx

    document = docx.Document()
    document.add_heading("Harbor Handbook", level=0)
    document.add_heading("Moorings", level=1)
    document.add_paragraph("Visiting boats moor at the north pier.")
    rows = [["Berth", "Length", "Fee"], ["A1", "12 m", "40 EUR a night"], ["K9", "20 m", "95 EUR a night"]]
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_heading("Tides", level=2)
    document.add_paragraph("High water is at noon on spring tides.")
    document.save(path)
    return path


def make_pptx(path: Path) -> Path:
    """Three slides: a title slide, a picture-only slide (no text) and a table with speaker notes."""
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[0])
    first.shapes.title.text = "Quarterly Review"
    first.placeholders[1].text = "Fleet and harbor figures"
    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank: nothing to read
    third = presentation.slides.add_slide(presentation.slide_layouts[5])
    third.shapes.title.text = "Landings by region"
    table = third.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for row, values in enumerate([["Region", "Tonnes"], ["North Sea", "310"], ["Baltic", "120"]]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    third.notes_slide.notes_text_frame.text = "Mention that the Baltic quota was cut."
    presentation.save(path)
    return path


def make_xlsx(path: Path) -> Path:
    """Two sheets with a header row, and an empty one between them."""
    import openpyxl

    workbook = openpyxl.Workbook()
    crew = workbook.active
    crew.title = "Crew"
    for row in [["Name", "Role", "Years"], ["Ann Berg", "Skipper", 12], ["Ole Lund", "Engineer", 3]]:
        crew.append(row)
    workbook.create_sheet("Notes")
    voyages = workbook.create_sheet("Voyages")
    voyages.append(["Departure", "Port"])
    voyages.append([datetime.datetime(2024, 3, 1), "Bergen"])
    workbook.save(path)
    return path


def make_epub(path: Path) -> Path:
    """A book of two chapters, with its navigation document in the spine as EPUB 3 allows."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("sea-stories-1")
    book.set_title("Sea Stories")
    book.set_language("en")
    storm = epub.EpubHtml(title="The Storm", file_name="storm.xhtml", lang="en")
    storm.content = "<h1>The Storm</h1><p>The gale broke the mast off Lindesnes.</p>"
    calm = epub.EpubHtml(title="The Calm", file_name="calm.xhtml", lang="en")
    calm.content = "<h2>The Calm</h2><p>For three days the sea lay flat.</p>"
    book.add_item(storm)
    book.add_item(calm)
    book.toc = [storm, calm]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", storm, calm]
    epub.write_epub(str(path), book)
    return path


def encrypted(path: Path, password: str = "secret") -> bytes:
    """The Office file at ``path`` as Office saves it with a password: inside an encrypted OLE2 file."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with path.open("rb") as plain:
        out = BytesIO()
        OOXMLFile(plain).encrypt(password, out)
    return out.getvalue()


def truncated(path: Path) -> bytes:
    """The first half of the file: what an interrupted download or copy leaves."""
    data = path.read_bytes()
    return data[: len(data) // 2]


def zip_of_text(name: str, text: str) -> bytes:
    """A ZIP archive holding one text file: a ZIP, but none of the formats."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, text)
    return out.getvalue()


# Each way an Office file goes bad, by name, with the words its reason must hold.
BAD_OFFICE_FILES = {
    "empty": "empty file",
    "text": "it is not a ZIP archive",
    "truncated": "damaged or truncated ZIP archive",
    "legacy": "legacy binary Office file (OLE2)",
    "encrypted": "password-protected",
    "other-zip": "a ZIP archive without",
}


def bad_office_file(kind: str, good: Path) -> bytes:
    """The bytes of a ``BAD_OFFICE_FILES`` kind, made from the good file ``good``."""
    makers = {
        "empty": lambda: b"",
        "text": lambda: b"Meeting notes, saved as text but named like a document.\n",
        "truncated": lambda: truncated(good),
        "legacy": lambda: OLE2_HEADER,
        "encrypted": lambda: encrypted(good),
        "other-zip": lambda: zip_of_text("notes.txt", "not an Office document"),
    }
    return makers[kind]()
