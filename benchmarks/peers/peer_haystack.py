"""Haystack doing ragkit's ingest and retrieval job, the way its documentation shows (run by setup.sh's haystack venv).

- load: the files below the folder through a ``FileTypeRouter`` to ``PyPDFToDocument`` (one
  document per PDF), ``HTMLToDocument`` (trafilatura's main-text extraction),
  ``MarkdownToDocument`` and ``TextFileToDocument``, joined by a ``DocumentJoiner``: the pipeline
  of Haystack's "preprocessing different file types" tutorial. ``store_full_path=True`` keeps the
  path of each file, not only its name, so that sources can be compared.
- chunk: ``DocumentCleaner`` (defaults), then ``DocumentSplitter(split_by="word",
  split_length=WORDS, split_overlap=OVERLAP_WORDS)``. Haystack's splitters count words,
  characters, sentences or tiktoken tokens (which need a download), not the embedder's tokens;
  ``WORDS`` was chosen so that the chunk count comes close to ragkit's 200-token chunks on the
  shared corpus sample (see README.md), with the overlap in the same proportion as 30 to 200.
- embed + write: ``SentenceTransformersDocumentEmbedder`` (default batch size 32; its progress
  bar off, as the other peers' are by default) and a ``DocumentWriter`` into a
  ``ChromaDocumentStore(persist_path=...)`` from chroma-haystack. The ingest runs as three small
  pipelines (convert, preprocess, embed and write) so each phase is timed; the components and
  their order are those of one indexing pipeline.
- retrieve: ``SentenceTransformersTextEmbedder`` + ``ChromaEmbeddingRetriever`` (dense);
  ``InMemoryBM25Retriever`` over the stored chunks copied into an ``InMemoryDocumentStore``, since
  Chroma has no BM25 (keyword); both joined by ``DocumentJoiner(join_mode="reciprocal_rank_fusion")``
  (hybrid), as in Haystack's hybrid retrieval tutorial.
- answer: the RAG pipeline of Haystack's first-RAG-pipeline tutorial ("Creating Your First QA
  Pipeline with Retrieval-Augmentation"): ``SentenceTransformersTextEmbedder`` →
  ``ChromaEmbeddingRetriever(top_k=k)`` → ``ChatPromptBuilder`` with the tutorial's template (one
  user message, ``TEMPLATE``) → ``TransformersChatGenerator`` from transformers-haystack, loading
  the generator's folder with a transformers ``text-generation`` pipeline and applying the
  tokenizer's chat template. (In haystack-ai 3.x the local Hugging Face generators, formerly
  ``HuggingFaceLocalChatGenerator``, live in that integration package.) Greedy decoding
  (``do_sample=False``), ``max_new_tokens`` as ragkit's (the component's default is 512).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from peer_common import CHUNK_OVERLAP, CHUNK_TOKENS, Ask, Phases, Search, chunk_stats, files_in, main

COLLECTION = "haystack"
WORDS = 90  # 2,184 chunks of 170 tokens on average on the corpus sample, against ragkit's 2,167 of 172
OVERLAP_WORDS = round(WORDS * CHUNK_OVERLAP / CHUNK_TOKENS)
# The RAG prompt of Haystack's tutorial 27, "Creating Your First QA Pipeline with Retrieval-Augmentation".
TEMPLATE = """
Given the following information, answer the question.

Context:
{% for document in documents %}
    {{ document.content }}
{% endfor %}

Question: {{question}}
Answer:
"""
MIME_TYPES = {"application/pdf": "pdf", "text/html": "html", "text/markdown": "markdown", "text/plain": "text"}


def ingest(args: argparse.Namespace, phases: Phases) -> dict[str, Any]:
    with phases.timed("import"):
        from haystack import Pipeline
        from haystack.components.converters import HTMLToDocument, MarkdownToDocument, PyPDFToDocument, TextFileToDocument
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.preprocessors import DocumentCleaner, DocumentSplitter
        from haystack.components.routers import FileTypeRouter
        from haystack.components.writers import DocumentWriter
        from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersDocumentEmbedder
        from haystack_integrations.document_stores.chroma import ChromaDocumentStore
        from transformers import AutoTokenizer
    with phases.timed("setup"):
        # Chroma drops the splitter's list-valued ``_split_overlap`` metadata with a warning per chunk.
        logging.getLogger("haystack_integrations.document_stores.chroma").setLevel(logging.ERROR)
        store = ChromaDocumentStore(collection_name=COLLECTION, persist_path=str(args.store))
        convert = Pipeline()
        convert.add_component("router", FileTypeRouter(mime_types=list(MIME_TYPES)))
        convert.add_component("pdf", PyPDFToDocument(store_full_path=True))
        convert.add_component("html", HTMLToDocument(store_full_path=True))
        convert.add_component("markdown", MarkdownToDocument(store_full_path=True, progress_bar=False))
        convert.add_component("text", TextFileToDocument(store_full_path=True))
        convert.add_component("joiner", DocumentJoiner())
        for mime_type, name in MIME_TYPES.items():
            convert.connect(f"router.{mime_type}", f"{name}.sources")
            convert.connect(f"{name}.documents", "joiner.documents")
        preprocess = Pipeline()
        preprocess.add_component("cleaner", DocumentCleaner())
        preprocess.add_component("splitter", DocumentSplitter(split_by="word", split_length=WORDS, split_overlap=OVERLAP_WORDS))
        preprocess.connect("cleaner.documents", "splitter.documents")
        embedder = SentenceTransformersDocumentEmbedder(model=str(args.model), progress_bar=False)
        embedder.warm_up()
        index = Pipeline()
        index.add_component("embedder", embedder)
        index.add_component("writer", DocumentWriter(document_store=store))
        index.connect("embedder.documents", "writer.documents")
        sources = files_in(args.folder)
    with phases.timed("load"):
        documents = convert.run({"router": {"sources": sources}})["joiner"]["documents"]
    with phases.timed("chunk"):
        chunks = preprocess.run({"cleaner": {"documents": documents}})["splitter"]["documents"]
    with phases.timed("embed+write"):
        index.run({"embedder": {"documents": chunks}})
    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    return {
        "files": len({document.meta.get("file_path") for document in documents}),
        "documents": len(documents),
        "chunks": store.count_documents(),
        "chunk_tokens": chunk_stats([len(tokenizer.tokenize(chunk.content or "")) for chunk in chunks]),
        "settings": {
            "loader": "FileTypeRouter -> PyPDFToDocument, HTMLToDocument, MarkdownToDocument, TextFileToDocument -> DocumentJoiner",
            "splitter": f"DocumentCleaner + DocumentSplitter(split_by='word', split_length={WORDS}, split_overlap={OVERLAP_WORDS}), words",
            "embedder": "SentenceTransformersDocumentEmbedder, batch_size=32 (default)",
            "store": "ChromaDocumentStore(persist_path=...) + DocumentWriter",
        },
    }


def retrieve(args: argparse.Namespace, modes: list[str], phases: Phases) -> dict[str, Search]:
    with phases.timed("import"):
        from haystack import Pipeline
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder
        from haystack_integrations.components.retrievers.chroma import ChromaEmbeddingRetriever
        from haystack_integrations.document_stores.chroma import ChromaDocumentStore
    with phases.timed("setup"):
        store = ChromaDocumentStore(collection_name=COLLECTION, persist_path=str(args.store))
    keyword_store = InMemoryDocumentStore()
    if "keyword" in modes or "hybrid" in modes:
        with phases.timed("keyword index"):
            keyword_store.write_documents(store.filter_documents())

    def pipeline(dense: bool, keyword: bool) -> Pipeline:
        """A query pipeline with the dense and/or the keyword branch; with both, fused by reciprocal rank."""
        query = Pipeline()
        if dense:
            query.add_component("embedder", SentenceTransformersTextEmbedder(model=str(args.model), progress_bar=False))
            query.add_component("dense", ChromaEmbeddingRetriever(document_store=store, top_k=args.k))
            query.connect("embedder.embedding", "dense.query_embedding")
        if keyword:
            query.add_component("keyword", InMemoryBM25Retriever(document_store=keyword_store, top_k=args.k))
        if dense and keyword:
            query.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=args.k))
            query.connect("dense.documents", "joiner.documents")
            query.connect("keyword.documents", "joiner.documents")
        query.warm_up()
        return query

    def search(dense: bool, keyword: bool) -> Search:
        query = pipeline(dense, keyword)
        last = "joiner" if dense and keyword else "dense" if dense else "keyword"

        def run(question: str) -> list[str]:
            inputs: dict[str, Any] = {}
            if dense:
                inputs["embedder"] = {"text": question}
            if keyword:
                inputs["keyword"] = {"query": question}
            return [document.meta.get("file_path", "") for document in query.run(inputs)[last]["documents"]]

        return run

    branches = {"dense": (True, False), "keyword": (False, True), "hybrid": (True, True)}
    with phases.timed("setup"):
        return {mode: search(*branches[mode]) for mode in modes}


def answer(args: argparse.Namespace, phases: Phases) -> tuple[Ask, dict[str, Any]]:
    with phases.timed("import"):
        import torch
        from haystack import Pipeline
        from haystack.components.builders import ChatPromptBuilder
        from haystack.dataclasses import ChatMessage
        from haystack.utils import ComponentDevice
        from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder
        from haystack_integrations.components.generators.transformers import TransformersChatGenerator
        from haystack_integrations.components.retrievers.chroma import ChromaEmbeddingRetriever
        from haystack_integrations.document_stores.chroma import ChromaDocumentStore
    with phases.timed("setup"):
        store = ChromaDocumentStore(collection_name=COLLECTION, persist_path=str(args.store))
        rag = Pipeline()
        rag.add_component("embedder", SentenceTransformersTextEmbedder(model=str(args.model), progress_bar=False))
        rag.add_component("retriever", ChromaEmbeddingRetriever(document_store=store, top_k=args.k))
        rag.add_component("prompt_builder", ChatPromptBuilder(template=[ChatMessage.from_user(TEMPLATE)], required_variables="*"))
        rag.add_component("llm", TransformersChatGenerator(
            model=str(args.generator),
            task="text-generation",  # given, so that the task is not looked up on the Hub
            device=ComponentDevice.from_str("cpu"),
            generation_kwargs={"max_new_tokens": args.max_new_tokens, "do_sample": False},
            huggingface_pipeline_kwargs={"dtype": getattr(torch, args.dtype)},
        ))  # fmt: skip
        rag.connect("embedder.embedding", "retriever.query_embedding")
        rag.connect("retriever.documents", "prompt_builder.documents")
        rag.connect("prompt_builder.prompt", "llm.messages")
        rag.warm_up()

    def ask(question: str) -> tuple[str, list[str]]:
        output = rag.run(
            {"embedder": {"text": question}, "prompt_builder": {"question": question}}, include_outputs_from={"retriever"}
        )
        replies = output["llm"]["replies"]
        text = (replies[0].text or "") if replies else ""
        return text, [document.meta.get("file_path", "") for document in output["retriever"]["documents"]]

    settings = {
        "pipeline": f"SentenceTransformersTextEmbedder -> ChromaEmbeddingRetriever(top_k={args.k}) -> "
        "ChatPromptBuilder([ChatMessage.from_user(TEMPLATE)]) -> TransformersChatGenerator",
        "llm": f"TransformersChatGenerator(model=FOLDER, task='text-generation', device=cpu, generation_kwargs="
        f"{{'max_new_tokens': {args.max_new_tokens}, 'do_sample': False}}, dtype={args.dtype})",
        "template": [{"role": "user", "content": TEMPLATE}],
        "retrieval": "dense",
    }
    return ask, settings


if __name__ == "__main__":
    main("Haystack", ingest, retrieve, ("dense", "keyword", "hybrid"), answer)
