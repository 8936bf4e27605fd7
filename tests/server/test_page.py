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
ANSWER_SECONDS = 300  # Qwen2.5-Coder-0.5B on two shared CPU cores


@pytest.fixture(scope="module")
def qwen_server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("qwen-server")
    generator = "generator:\n  type: transformers\n  max_new_tokens: 48"
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


def test_the_page_streams_an_answer_with_its_sources(qwen_server: Server, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it: apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
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
            answer = page.inner_text("#answer")
            sources = page.locator("#sources li").all_inner_texts()
            page.screenshot(path=str(tmp_path / "page.png"))
        finally:
            browser.close()
    assert "15" in answer
    assert any(source.startswith("pdf/rag-reference-architecture.pdf, page 3") for source in sources)
    assert all("score" in source for source in sources) and len(sources) == 3
    assert status_with_sources == "answering…" and errors == []
