"""The real model behind ``ragkit serve``: one answer over the API, and the page in a headless chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from paths import SAMPLE_DOCS
from serving import TOKEN, Server, pipeline_file, serve

pytestmark = pytest.mark.models

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ANSWER_SECONDS = 300  # the default CPU generator (llama.cpp, Qwen2.5-Coder-1.5B) on two shared CPU cores

# Whether two characters draw differently: without a font for them, both are the same empty box.
GLYPHS_DIFFER = """([a, b]) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 40;
  const context = canvas.getContext("2d");
  const draw = (text) => {
    context.clearRect(0, 0, 40, 40);
    context.font = "32px sans-serif";
    context.fillText(text, 2, 32);
    return context.getImageData(0, 0, 40, 40).data.join(",");
  };
  return draw(a) !== draw(b);
}"""


@pytest.fixture(scope="module")
def qwen_server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("qwen-server")
    # The generator a user gets on a CPU: transformers' 0.5B named 640 for the Chinese question in float32 (CI's CPU,
    # no native bf16) where the default answers 512 in both precisions.
    generator = "generator:\n  type: auto\n  max_new_tokens: 48"
    with serve(pipeline_file(folder, generator, top_k=3), folder / "server.log", roots=[SAMPLE_DOCS]) as server:
        with server.client(TOKEN) as client:
            client.post("/v1/ingest", json={"path": str(SAMPLE_DOCS)}).raise_for_status()
        yield server


def test_the_api_answers_from_the_right_page(qwen_server: Server) -> None:
    question = "Above what percentage of GPU memory use does the Redline alert fire?"
    with qwen_server.client() as client:
        answer = client.post("/v1/ask", json={"question": question}).raise_for_status().json()
    assert "92" in answer["answer"]
    assert ("pdf/serving-runbook.pdf", 2) in [(source["source"], source["page"]) for source in answer["sources"]]


@pytest.fixture()
def browser():
    """Debian's chromium, headless, driven by Playwright."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_the_page_streams_an_answer_with_its_sources(qwen_server: Server, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(qwen_server.url + "/")
    expect(page.locator("#stats")).to_have_text(re.compile(r"^\d+ chunks · 19 documents · 15 files$"))
    page.fill("#question", "How many minutes does the Larder answer cache keep each cached answer?")
    page.click("#ask")
    # Streamed: the sources show while the model is still reading its prompt (seconds on a CPU).
    expect(page.locator("#sources li").first).to_be_visible(timeout=ANSWER_SECONDS * 1000)
    status_with_sources = page.inner_text("#status")
    expect(page.locator("#status")).to_have_text("done", timeout=ANSWER_SECONDS * 1000)
    page.screenshot(path=str(tmp_path / "page.png"))
    cited = page.locator("#cited li").all_inner_texts()
    marked = page.locator("#cited mark").all_inner_texts()
    assert "15" in page.inner_text("#answer")
    # The cited passage leads, its supporting sentence marked; the rest are folded; no raw scores.
    assert cited and cited[0].startswith("pdf/rag-reference-architecture.pdf, page 3")
    assert any("15" in span for span in marked)
    assert not page.locator("#others").evaluate("details => details.open")
    assert len(cited) + page.locator("#sources li").count() == 3
    assert page.inner_text("#grounding").startswith("Supported by") and not any("score" in text for text in cited)
    assert status_with_sources == "answering…" and errors == []


def test_the_page_answers_a_chinese_question_with_its_cited_passage(qwen_server: Server, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(qwen_server.url + "/")
    page.fill("#question", "星河-3 嵌入模型的向量维度是多少？")
    page.click("#ask")
    expect(page.locator("#status")).to_have_text("done", timeout=ANSWER_SECONDS * 1000)
    page.screenshot(path=str(tmp_path / "page-zh.png"))
    cited = page.locator("#cited li").all_inner_texts()
    assert "512" in page.inner_text("#answer")
    assert cited and cited[0].startswith("zh/向量检索简介.md")
    # Chinese renders as glyphs, not the same empty box twice: a CJK font is installed (scripts/setup.sh).
    assert page.evaluate(GLYPHS_DIFFER, ["向", "量"])


def test_the_page_keeps_the_conversation_and_starts_a_new_one(qwen_server: Server, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(qwen_server.url + "/")
    first = "What is the default chunk size of the Lumen chunker, in tokens?"
    follow_up = "And its default overlap between neighbouring chunks?"
    page.fill("#question", first)
    page.click("#ask")
    expect(page.locator("#status")).to_have_text("done", timeout=ANSWER_SECONDS * 1000)
    first_answer = page.inner_text("#answer")
    assert "220" in first_answer and page.inner_text("#query") == ""  # a first question is retrieved as asked
    page.fill("#question", follow_up)
    page.click("#ask")
    # The first turn stays on screen above the follow-up, which is retrieved for in a standalone form.
    expect(page.locator("#conversation .turn")).to_have_count(1)
    expect(page.locator("#status")).to_have_text("done", timeout=ANSWER_SECONDS * 1000)
    page.screenshot(path=str(tmp_path / "page-conversation.png"))
    turn = page.locator("#conversation .turn").inner_text()
    assert first in turn and first_answer in turn and page.inner_text("#asked") == follow_up
    assert page.inner_text("#query").startswith("Searched for: ") and "chunk" in page.inner_text("#query").lower()
    assert "40" in page.inner_text("#answer")
    assert "guides/chunking.md" in " ".join(page.locator("#cited li, #sources li").all_inner_texts())
    page.click("#new-conversation")
    expect(page.locator("#conversation .turn")).to_have_count(0)
    assert page.inner_text("#answer") == "" and page.inner_text("#asked") == ""
    page.fill("#question", follow_up)
    page.click("#ask")
    expect(page.locator("#status")).to_have_text("done", timeout=ANSWER_SECONDS * 1000)
    assert page.inner_text("#query") == "" and page.locator("#conversation .turn").count() == 0  # a new conversation
    assert errors == []
