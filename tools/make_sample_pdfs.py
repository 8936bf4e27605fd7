"""Generate the sample PDF documents under sample_docs/pdf/.

The PDFs are part of the demo corpus and are committed to the repository.
Re-run this script after editing the text below:

    python tools/make_sample_pdfs.py

Requires the ``fpdf2`` package. Output is deterministic: the creation date
is fixed, so running the script twice produces byte-identical files.

Every section starts on a new page, so the page on which each fact appears
is stable. tests/e2e_questions.json relies on those page numbers.
Only the PDF core fonts are used, so all text must be Latin-1 (no curly
quotes or em-dashes).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "sample_docs" / "pdf"
CREATION_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Each document: title, subtitle, and a list of pages. Each page is a list of
# (heading, [paragraphs]) sections. A paragraph starting with "- " is
# rendered as a bullet item.
DOCUMENTS = {
    "rag-reference-architecture.pdf": {
        "title": "Lumen RAG Reference Architecture",
        "subtitle": "Lumen Labs platform team - design overview",
        "pages": [
            [
                (
                    "1. Overview",
                    [
                        "This document describes how the Lumen question-answering "
                        "service turns a user's question into a cited answer. The "
                        "design follows the standard retrieval-augmented generation "
                        "(RAG) pattern: documents are prepared ahead of time, and at "
                        "question time the system retrieves relevant passages, "
                        "places them in a prompt, and asks a language model to "
                        "answer from those passages only.",
                        "The service is split into three stages that can be scaled "
                        "and tested separately: ingestion, retrieval, and "
                        "generation. Each stage is described on its own page.",
                    ],
                ),
                (
                    "2. Ingestion",
                    [
                        "Ingestion converts source files into searchable chunks. "
                        "Loaders read Markdown, HTML, plain text and PDF files, "
                        "remove boilerplate such as navigation menus and scripts, "
                        "and keep the page number of every PDF passage so that "
                        "answers can cite it.",
                        "The text is then split into overlapping chunks, each chunk "
                        "is embedded, and the vectors are written to the vector "
                        "index together with a keyword index over the same chunks.",
                        "The ingestion worker is called Tidewater.",
                        "Tidewater re-scans every registered source every 6 hours "
                        "and re-indexes only the files whose content hash has "
                        "changed.",
                        "Because chunk IDs are derived from the file path and the "
                        "chunk position, updating one file never requires "
                        "rebuilding the whole index.",
                    ],
                ),
            ],
            [
                (
                    "3. Retrieval and reranking",
                    [
                        "Retrieval runs in two steps. The first step is fast and "
                        "broad: the question is embedded and searched in the vector "
                        "index, the same question is searched in the keyword index, "
                        "and the two ranked lists are merged with reciprocal rank "
                        "fusion. This step aims for high recall; it is acceptable "
                        "for the candidate list to contain many passages that turn "
                        "out to be irrelevant.",
                        "The second step is slow and precise. A cross-encoder reads "
                        "the question and each candidate passage together and "
                        "outputs a relevance score. Because it sees both texts at "
                        "once, a cross-encoder can judge relevance much better than "
                        "comparing two independently computed vectors, but it has "
                        "to run once for every candidate.",
                        "The reranker used in this architecture is a cross-encoder "
                        "called Sieve-R2.",
                        "Sieve-R2 rescores the top 50 fused candidates and passes "
                        "the best 5 on to the generation stage.",
                        "Candidates whose reranker score is very low are dropped "
                        "even if fewer than five passages remain. Sending the model "
                        "fewer, better passages reduces the chance that it picks up "
                        "a misleading detail from an unrelated document.",
                    ],
                ),
            ],
            [
                (
                    "4. Generation, caching and citations",
                    [
                        "The generation stage builds a prompt from the instructions, "
                        "the numbered passages, and the question, and sends it to "
                        "the language model with greedy decoding. The model is "
                        "asked to cite passages by number in square brackets. After "
                        "generation, the service maps each number back to its file "
                        "name and page, and removes citation numbers that do not "
                        "match any passage.",
                        "Popular questions are asked many times a day, and "
                        "generating the same answer repeatedly wastes GPU time. "
                        "Answers are therefore cached, keyed by the normalized "
                        "question text and the version of the index.",
                        "The answer cache service is called Larder.",
                        "Larder keeps each cached answer for 15 minutes before it "
                        "expires.",
                        "Any change to the index increases the index version, which "
                        "makes all older cache entries unreachable at once. This "
                        "guarantees that users never receive an answer built from a "
                        "document that has since been updated.",
                    ],
                ),
            ],
        ],
    },
    "serving-runbook.pdf": {
        "title": "Model Serving Runbook",
        "subtitle": "Lumen Labs inference on-call guide",
        "pages": [
            [
                (
                    "1. Purpose and scope",
                    [
                        "This runbook is for engineers on call for the language "
                        "model serving cluster. It explains what the most common "
                        "alerts mean, what to check first, and how to undo a bad "
                        "deployment safely.",
                        "The serving cluster is called Meridian.",
                        "Meridian runs the chat model and the embedding model "
                        "behind a shared gateway. Requests are routed by model "
                        "name, and each model has its own pool of GPU workers.",
                    ],
                ),
                (
                    "2. Health signals",
                    [
                        "Three signals describe the health of the service better "
                        "than any other: time to first token, which mostly reflects "
                        "prompt processing and queueing; decode speed in tokens per "
                        "second per request, which mostly reflects memory bandwidth "
                        "and batch size; and the error rate at the gateway.",
                        "- A rising time to first token with normal decode speed "
                        "usually means requests are waiting in the queue.",
                        "- Falling decode speed across all requests usually means "
                        "batches have grown too large or a worker is degraded.",
                        "- Errors concentrated on one worker point to a hardware or "
                        "driver problem on that machine.",
                    ],
                ),
            ],
            [
                (
                    "3. GPU memory alerts",
                    [
                        "GPU memory on a serving worker holds two things: the model "
                        "weights, which are fixed, and the KV cache, which grows "
                        "with the number of active requests and the length of their "
                        "contexts. Retrieval-augmented prompts are long, so a burst "
                        "of RAG traffic can fill the cache quickly. When memory runs "
                        "out, the server must pause or reject requests, and "
                        "latency rises sharply.",
                        "The GPU memory alert is called Redline.",
                        "Redline fires when GPU memory use stays above 92 percent "
                        "for 5 minutes on any worker.",
                        "When Redline fires, first check whether traffic has "
                        "increased or whether prompts have become longer, for "
                        "example after a change that sends more retrieved passages "
                        "per question. Lowering the maximum number of concurrent "
                        "sequences relieves pressure immediately at the cost of "
                        "throughput. Do not restart a worker that is only busy: a "
                        "restart throws away its prefix cache and makes the "
                        "following minutes slower.",
                    ],
                ),
            ],
            [
                (
                    "4. Deployments and rollback",
                    [
                        "New model versions and server builds are released as a "
                        "canary first: a small share of traffic is sent to the new "
                        "version while the rest stays on the old one. Compare "
                        "error rate, time to first token and answer quality "
                        "checks between the two groups before widening the "
                        "rollout.",
                        "If the canary looks worse, roll back instead of debugging "
                        "in production. The previous version's weights and "
                        "configuration are kept on every worker for exactly this "
                        "purpose.",
                        "Rollbacks are performed with a tool called Backstep.",
                        "A Backstep rollback must complete within 20 minutes of the "
                        "decision to roll back.",
                        "After a rollback, write a short incident note that records "
                        "what was deployed, which signal showed the problem, and "
                        "when traffic was fully back on the previous version.",
                    ],
                ),
            ],
        ],
    },
}


class SamplePDF(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.set_margins(22, 22, 22)
        self.set_auto_page_break(auto=True, margin=22)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(120)
        self.cell(0, 6, self.doc_title, align="R")
        self.ln(10)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(120)
        self.cell(0, 6, f"Page {self.page_no()}", align="C")
        self.set_text_color(0)


def write_block(pdf: FPDF, line_height: float, text: str) -> None:
    """Write wrapped text and move to the start of the next line."""
    pdf.multi_cell(0, line_height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def build(name: str, spec: dict) -> Path:
    pdf = SamplePDF(spec["title"])
    pdf.set_creation_date(CREATION_DATE)
    pdf.set_title(spec["title"])
    pdf.set_author("Lumen Labs")
    pdf.set_creator("tools/make_sample_pdfs.py")
    pdf.set_producer("fpdf2")

    for page_index, sections in enumerate(spec["pages"]):
        pdf.add_page()
        if page_index == 0:
            pdf.set_font("Helvetica", "B", 20)
            write_block(pdf, 10, spec["title"])
            pdf.set_font("Helvetica", "", 11)
            pdf.set_text_color(90)
            write_block(pdf, 6, spec["subtitle"])
            pdf.set_text_color(0)
            pdf.ln(6)
        for heading, paragraphs in sections:
            pdf.set_font("Helvetica", "B", 14)
            write_block(pdf, 8, heading)
            pdf.ln(2)
            pdf.set_font("Helvetica", "", 11)
            for para in paragraphs:
                if para.startswith("- "):
                    pdf.set_x(pdf.l_margin + 4)
                    write_block(pdf, 6, "* " + para[2:])
                else:
                    write_block(pdf, 6, para)
                pdf.ln(3)
            pdf.ln(3)
        expected = page_index + 1
        if pdf.page_no() != expected:
            raise RuntimeError(
                f"{name}: content of page {expected} overflowed onto page "
                f"{pdf.page_no()}; shorten it so page numbers stay stable"
            )

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / name
    pdf.output(str(path))
    return path


def main() -> None:
    for name, spec in DOCUMENTS.items():
        path = build(name, spec)
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
