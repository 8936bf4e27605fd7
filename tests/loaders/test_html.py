"""HtmlLoader: visible main text with paragraph structure, whatever the markup or encoding."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.html import HtmlLoader
from ragkit.types import Document

PAGE = """<!DOCTYPE html>
<html><head><title> Hybrid   search </title>
<style>p { color: red }</style><script>var s = "<p>script text</p>";</script></head>
<body>
<header><h1>Site banner</h1></header>
<nav><a href="/">Home</a></nav>
<div role="navigation">menu items</div>
<div role="banner contentinfo">role banner</div>
<aside>related links</aside>
<main>
<h1>Hybrid search<a class="headerlink" href="#h">¶</a></h1>
<p>Dense   retrieval
   finds <b>paraphrases</b>; sparse &amp; exact
   matching finds <a href="#">names</a>.</p>
<p hidden>hidden paragraph</p>
<p aria-hidden="true">aria hidden paragraph</p>
<ul><li>BM25</li><li>dense <em>vectors</em></li></ul>
<pre>def score(q):
    return bm25(q)</pre>
<table><tr><th>Method</th><th>Recall</th></tr><tr><td>BM25</td><td>0.61</td></tr></table>
first line<br>second line
<!-- a comment that must not appear -->
<form><input value="search"><button>Go</button></form>
<noscript>enable javascript</noscript><template><p>template text</p></template>
<svg><title>icon</title><text>svg text</text></svg><iframe src="x"></iframe>
</main>
<footer>copyright footer</footer>
</body></html>
"""


def _load(tmp_path: Path, data: bytes, name: str = "page.html") -> Document:
    path = tmp_path / name
    path.write_bytes(data)
    [document] = HtmlLoader().load(path.read_bytes(), f"web/{name}")
    return document


def test_text_keeps_blocks_and_drops_boilerplate(tmp_path: Path) -> None:
    document = _load(tmp_path, PAGE.encode())
    assert document.text == (
        "Hybrid search\n\n"
        "Dense retrieval finds paraphrases; sparse & exact matching finds names.\n\n"
        "BM25\n\n"
        "dense vectors\n\n"
        "def score(q):\n    return bm25(q)\n\n"
        "Method | Recall\nBM25 | 0.61\n\n"
        "first line\nsecond line"
    )
    assert document.metadata["title"] == "Hybrid search"
    assert document.metadata["file_type"] == "html"
    assert document.metadata["source"] == "web/page.html"


@pytest.mark.parametrize(
    "dropped",
    ["script text", "Site banner", "Home", "menu items", "role banner", "related links", "hidden paragraph",
     "aria hidden", "comment", "search", "Go", "javascript", "template text", "icon", "svg text", "copyright", "¶"],
)  # fmt: skip
def test_boilerplate_is_gone(tmp_path: Path, dropped: str) -> None:
    assert dropped not in _load(tmp_path, PAGE.encode()).text.replace("Hybrid search", "")


def test_title_falls_back_to_h1_even_inside_a_header(tmp_path: Path) -> None:
    page = b"<html><body><svg><title>logo</title></svg><header><h1>Git  manual</h1></header><p>Body</p></body></html>"
    document = _load(tmp_path, page)
    assert document.metadata["title"] == "Git manual"
    assert document.text == "Body"


def test_no_title_no_key(tmp_path: Path) -> None:
    assert "title" not in _load(tmp_path, b"<p>Only text</p>").metadata


def test_gbk_page_with_meta_charset(tmp_path: Path) -> None:
    page = '<html><head><meta charset="gb2312"><title>测试</title></head><body><p>这是一个网页。</p></body></html>'
    document = _load(tmp_path, page.encode("gbk"))
    assert document.metadata["title"] == "测试"
    assert document.text == "这是一个网页。"


def test_gbk_page_without_declaration_is_detected(tmp_path: Path) -> None:
    body = "检索增强生成是一种把信息检索和文本生成结合起来的方法。模型先从文档库中找出相关的段落。"
    document = _load(tmp_path, f"<html><body><h2>简介</h2><p>{body}</p></body></html>".encode("gbk"))
    assert document.text == f"简介\n\n{body}"


def test_utf8_page_mislabelled_as_latin_1(tmp_path: Path) -> None:
    page = '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>Café 中文</p>'
    assert _load(tmp_path, page.encode()).text == "Café 中文"


def test_latin_1_page_with_declaration(tmp_path: Path) -> None:
    page = (
        '<?xml version="1.0" encoding="iso-8859-1"?><html xmlns="http://www.w3.org/1999/xhtml"><p>Ça coûte</p></html>'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # XHTML must not warn
        assert _load(tmp_path, page.encode("latin-1")).text == "Ça coûte"


@pytest.mark.parametrize(
    "markup",
    [
        b"<p>unclosed <b>bold <i>italic</p> after</div></span>",
        b"<<<>>><p>text</p><a href='x>broken</a><p>more",
        b"<html><body><table><tr><td>cell<td>cell2</table><li>stray item",
        b"\xef\xbb\xbf<p>BOM page</p>",
    ],
)
def test_broken_markup_still_gives_text(tmp_path: Path, markup: bytes) -> None:
    assert _load(tmp_path, markup).text.strip()


def test_deep_nesting_does_not_hit_the_recursion_limit(tmp_path: Path) -> None:
    page = "<div>" * 5000 + "<p>deep</p>" + "</div>" * 5000
    assert "deep" in _load(tmp_path, page.encode()).text


@pytest.mark.parametrize("markup", [b"<nav>only navigation</nav>", b"<script>x()</script>", b"   "])
def test_page_without_visible_text_is_an_error(tmp_path: Path, markup: bytes) -> None:
    with pytest.raises(LoadError):
        _load(tmp_path, markup)


def test_registered() -> None:
    assert registry.get("loader", "html") is HtmlLoader
    assert set(HtmlLoader.extensions) == {".html", ".htm"}


def test_tables_of_contents_and_menus_go_but_lists_of_external_links_stay(tmp_path: Path) -> None:
    sections = "".join(f'<dt><a href="#s{n}">{n}. Section heading {n}</a></dt>' for n in range(1, 7))
    menu = "".join(f'<li><a href="page{n}.html">Chapter {n}</a></li>' for n in range(1, 6))
    links = "".join(f'<li><a href="https://example.org/{n}">Resource {n}</a></li>' for n in range(1, 6))
    glossary = "".join(f'<li><a href="#t{n}">term {n}</a> is explained at length here</li>' for n in range(1, 6))
    page = (
        f'<html><body><div class="toc"><p>Table of Contents</p><dl>{sections}</dl></div>'
        f'<div class="sphinxsidebar">Sidebar text</div><ul>{menu}</ul>'
        f"<h2>Section heading 1</h2><p>The body.</p><ul>{links}</ul>"
        f"<ul>{glossary}</ul></body></html>"
    )
    text = _load(tmp_path, page.encode()).text
    assert "Table of Contents" not in text and "Sidebar" not in text and "Chapter 5" not in text
    assert "Section heading 1\n\nThe body." in text and "Resource 5" in text  # external links are content
    assert "term 5 is explained at length here" in text  # internal links amid prose stay
