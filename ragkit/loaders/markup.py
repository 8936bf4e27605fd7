"""HTML to readable text, for every loader that meets HTML (``.html`` pages, EPUB chapters).

Navigation includes the tables of contents that documentation generators
(DocBook, Sphinx) put on every page: they repeat the page's and the site's
headings, so in a search index they outrank the sections they point to.

Block elements become paragraphs separated by blank lines, so that the chunkers
see the same structure a reader does; whitespace inside a paragraph collapses as
a browser would render it.
"""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from ragkit.loaders.documents import clean_title
from ragkit.loaders.encoding import decode_text

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
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def decode_markup(data: bytes, source: str) -> str:
    """The markup as text, in the encoding its meta charset or XML declaration names when the bytes are not UTF-8."""
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    return decode_text(data, source, declared=declared)


def parse_html(markup: str) -> BeautifulSoup:
    """A lenient parse: real-world pages and EPUB chapters are often broken, XHTML is HTML to us."""
    with warnings.catch_warnings():
        # bs4 suggests an XML parser for XHTML, which would choke on real-world pages.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "lxml")


def page_title(soup: BeautifulSoup) -> str | None:
    """``<title>``, else the first ``<h1>``; read before boilerplate goes (an h1 often sits in a header)."""
    title_tag = soup.find(lambda tag: tag.name == "title" and tag.find_parent("svg") is None)
    for tag in (title_tag, soup.h1):
        title = clean_title(tag.get_text(" ")) if tag is not None else None
        if title:
            return title
    return None


def first_heading(soup: BeautifulSoup) -> str | None:
    """The first heading of any level: what a reader sees atop a chapter, which may start at ``<h2>``."""
    heading = soup.find(_HEADINGS)
    return clean_title(heading.get_text(" ")) if heading is not None else None


def readable_text(soup: BeautifulSoup) -> str:
    """The visible main text: boilerplate removed from ``soup`` (in place), the rest as paragraphs."""
    for element in [tag for tag in soup.find_all(True) if _is_boilerplate(tag)]:
        if not element.decomposed:  # an ancestor may have gone already
            element.decompose()
    return _html_to_text(soup)


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


def _html_to_text(root: Tag) -> str:
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
