"""HTML pages: the readable text, without navigation, scripts or hidden parts.

Navigation includes the tables of contents that documentation generators
(DocBook, Sphinx) put on every page: they repeat the page's and the site's
headings, so in a search index they outrank the sections they point to.

Block elements become paragraphs separated by blank lines, so that the chunkers
see the same structure a reader does; whitespace inside a paragraph collapses as
a browser would render it.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.encoding import decode_text
from ragkit.loaders.documents import clean_title, make_document
from ragkit.types import Document, content_hash

# "head" holds the title (kept in metadata) and machinery, never body text.
_DROPPED_TAGS = frozenset(
    {"head", "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg", "iframe"}
)
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo"})
# Sphinx's "¶" permalinks after every heading; DocBook's and Sphinx's tables of contents and sidebars.
_DROPPED_CLASSES = frozenset({"headerlink", "toc", "sphinxsidebar", "related", "breadcrumb", "breadcrumbs"})
# A list is a menu or a table of contents when it has at least this many links, nearly all of its
# text is link text, and nearly all links point within the site; a list of external links is content.
_MENU_MIN_LINKS = 5
_MENU_LINK_TEXT_SHARE = 0.9
_MENU_INTERNAL_SHARE = 0.8
_LISTS = frozenset({"ul", "ol", "dl"})

# Elements that start a new paragraph.
_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main",
        "ol", "p", "section", "summary", "table", "ul",
    }
)  # fmt: skip
# Elements that start a new line within a paragraph.
_LINES = frozenset({"br", "tr"})
_CELLS = ("td", "th")


class HtmlLoader:
    """Reads ``.html`` pages into one document of their visible main text."""

    extensions: ClassVar[tuple[str, ...]] = (".html", ".htm")

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        declared = EncodingDetector.find_declared_encoding(data, is_html=True)
        markup = decode_text(data, source, declared=declared)
        with warnings.catch_warnings():
            # XHTML is HTML to us; bs4 suggests an XML parser, which would choke on real-world pages.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(markup, "lxml")
        title = _title(soup)
        for element in [tag for tag in soup.find_all(True) if _is_boilerplate(tag)]:
            if not element.decomposed:  # an ancestor may have gone already
                element.decompose()
        text = html_to_text(soup)
        if not text:
            raise LoadError("no visible text in the page")
        return [make_document(text, source=source, file_type="html", doc_hash=content_hash(markup), title=title)]


def _title(soup: BeautifulSoup) -> str | None:
    """``<title>``, else the first ``<h1>``; read before boilerplate goes (an h1 often sits in a header)."""
    page_title = soup.find(lambda tag: tag.name == "title" and tag.find_parent("svg") is None)
    for tag in (page_title, soup.h1):
        title = clean_title(tag.get_text(" ")) if tag is not None else None
        if title:
            return title
    return None


def _is_boilerplate(tag: Tag) -> bool:
    if tag.name in _DROPPED_TAGS or tag.has_attr("hidden"):
        return True
    if str(tag.get("aria-hidden", "")).strip().lower() == "true":
        return True
    roles = str(tag.get("role", "")).lower().split()
    if any(role in _DROPPED_ROLES for role in roles):
        return True
    if any(name in _DROPPED_CLASSES for name in tag.get_attribute_list("class")):
        return True
    return tag.name in _LISTS and _is_menu(tag)


def _is_menu(tag: Tag) -> bool:
    """A list of links within the site, with little else: a menu or a table of contents."""
    links = tag.find_all("a", href=True)
    if len(links) < _MENU_MIN_LINKS:
        return False
    text = len("".join(tag.get_text().split()))
    link_text = sum(len("".join(link.get_text().split())) for link in links)
    internal = sum(1 for link in links if "://" not in link["href"] and not link["href"].startswith("mailto:"))
    return link_text >= _MENU_LINK_TEXT_SHARE * text and internal >= _MENU_INTERNAL_SHARE * len(links)


def html_to_text(root: Tag) -> str:
    """The text under ``root``: blank lines between blocks, one line per ``<br>`` or table row."""
    paragraphs: list[str] = []
    lines: list[list[str]] = [[]]

    def end_paragraph() -> None:
        collapsed = (" ".join("".join(line).split()) for line in lines)
        text = "\n".join(line for line in collapsed if line)
        if text:
            paragraphs.append(text)
        lines[:] = [[]]

    # Iterative walk: deeply nested (often broken) markup must not hit the recursion limit.
    stack: list[tuple[PageElement, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctypes, CDATA
                lines[-1].append(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        if node.name in _BLOCKS or node.name == "pre":
            end_paragraph()
        elif node.name in _LINES:
            lines.append([])
        if leaving:
            continue
        if node.name == "pre":
            # Preformatted text keeps its spacing: it is code or a layout that means something.
            preformatted = node.get_text().strip("\n")
            if preformatted.strip():
                paragraphs.append(preformatted)
            continue
        if node.name in _CELLS and node.find_previous_sibling(_CELLS) is not None:
            lines[-1].append(" | ")
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    end_paragraph()
    return "\n\n".join(paragraphs)
