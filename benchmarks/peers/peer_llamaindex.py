"""LlamaIndex doing ragkit's ingest and retrieval job, the way its documentation shows (run by setup.sh's llamaindex venv).

- load: ``SimpleDirectoryReader(recursive=True)`` with its default readers (PDF: ``PDFReader``,
  one document per page; Markdown and text read as plain text). HTML has no default reader (it
  would be read as raw markup), so ``.html``/``.htm`` go to llama-index-readers-file's
  ``HTMLTagReader(tag="body")``, the text of the page body.
- chunk: ``SentenceSplitter(chunk_size=230, chunk_overlap=30)`` counting tokens with the
  embedder's tokenizer (its default counts with tiktoken's GPT-3.5 encoding). LlamaIndex embeds
  each chunk with its metadata (here ``file_path``, plus ``page_label`` for PDFs), about 30
  tokens, and counts them against the chunk size: 230 leaves ragkit's 200 for the text, and gives
  about as many chunks as ragkit (see README.md; with 200, 16% more).
- embed + write: ``HuggingFaceEmbedding`` (sentence-transformers, default ``embed_batch_size``
  10) into a ``ChromaVectorStore`` on a ``chromadb.PersistentClient``, through ``VectorStoreIndex``.
- retrieve: ``index.as_retriever(similarity_top_k=k)`` (dense); ``BM25Retriever`` from
  llama-index-retrievers-bm25 over the stored nodes (keyword); ``QueryFusionRetriever`` of both
  with ``mode="reciprocal_rerank"`` and ``num_queries=1`` (hybrid).
- answer: the default query engine, ``index.as_query_engine(llm=..., similarity_top_k=k)``, with
  llama-index-llms-huggingface's ``HuggingFaceLLM`` loading the generator's folder
  (``model_name`` and ``tokenizer_name``) and ``is_chat_model=True``: its default
  ``messages_to_prompt`` applies the tokenizer's chat template, and the query engine picks its
  default chat prompts (``CHAT_TEXT_QA_PROMPT``: a system message and the context and query in a
  user message; response mode ``compact``). Greedy decoding (``do_sample=False``),
  ``max_new_tokens`` as ragkit's. ``Settings.tokenizer`` is the generator's tokenizer, which the
  prompt helper counts the context window in (its default, tiktoken's, needs a download).
"""

from __future__ import annotations

import argparse
from typing import Any

from peer_common import CHUNK_OVERLAP, CHUNK_TOKENS, Ask, Phases, Search, chunk_stats, main

COLLECTION = "llamaindex"
METADATA_TOKENS = 30  # the file path (and page label) embedded with every chunk, counted in its size
CHUNK_SIZE = CHUNK_TOKENS + METADATA_TOKENS


def ingest(args: argparse.Namespace, phases: Phases) -> dict[str, Any]:
    with phases.timed("import"):
        import chromadb
        from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.schema import MetadataMode
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.readers.file import HTMLTagReader
        from llama_index.vector_stores.chroma import ChromaVectorStore
        from transformers import AutoTokenizer
    with phases.timed("setup"):
        tokenizer = AutoTokenizer.from_pretrained(str(args.model))
        Settings.tokenizer = tokenizer.tokenize  # LlamaIndex's documented way to count in another tokenizer
        embed_model = HuggingFaceEmbedding(model_name=str(args.model))
        html = HTMLTagReader(tag="body")
        reader = SimpleDirectoryReader(str(args.folder), recursive=True, file_extractor={".html": html, ".htm": html})
        splitter = SentenceSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, tokenizer=tokenizer.tokenize)
        collection = chromadb.PersistentClient(path=str(args.store)).get_or_create_collection(COLLECTION)
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    with phases.timed("load"):
        documents = reader.load_data()
    with phases.timed("chunk"):
        nodes = splitter.get_nodes_from_documents(documents)
    with phases.timed("embed+write"):
        VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
    embedded = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    return {
        "files": len({document.metadata.get("file_path") for document in documents}),
        "documents": len(documents),
        "chunks": collection.count(),
        "chunk_tokens": chunk_stats([len(tokenizer.tokenize(text)) for text in embedded]),
        "settings": {
            "loader": "SimpleDirectoryReader(recursive=True), HTMLTagReader(tag='body') for .html",
            "splitter": f"SentenceSplitter(chunk_size={CHUNK_SIZE}, chunk_overlap={CHUNK_OVERLAP}), MiniLM tokens incl. embedded metadata",
            "embedder": f"HuggingFaceEmbedding, embed_batch_size={embed_model.embed_batch_size} (default)",
            "store": "ChromaVectorStore on chromadb.PersistentClient",
        },
    }


def retrieve(args: argparse.Namespace, modes: list[str], phases: Phases) -> dict[str, Search]:
    with phases.timed("import"):
        import chromadb
        from llama_index.core import VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.retrievers.bm25 import BM25Retriever
        from llama_index.vector_stores.chroma import ChromaVectorStore
    with phases.timed("setup"):
        collection = chromadb.PersistentClient(path=str(args.store)).get_collection(COLLECTION)
        vector_store = ChromaVectorStore(chroma_collection=collection)
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=HuggingFaceEmbedding(model_name=str(args.model)))
        retrievers: dict[str, Any] = {"dense": index.as_retriever(similarity_top_k=args.k)}
    if "keyword" in modes or "hybrid" in modes:
        with phases.timed("keyword index"):
            # Chroma holds every node's text; the BM25 index is built from them in memory.
            retrievers["keyword"] = BM25Retriever.from_defaults(nodes=vector_store.get_nodes(None), similarity_top_k=args.k)
        # num_queries=1: no query rewriting, so the LLM (required by the constructor) is never called.
        retrievers["hybrid"] = QueryFusionRetriever(
            [retrievers["dense"], retrievers["keyword"]],
            similarity_top_k=args.k,
            num_queries=1,
            mode="reciprocal_rerank",
            use_async=False,
            llm=MockLLM(),
        )

    def search(retriever: Any) -> Search:
        return lambda question: [hit.node.metadata.get("file_path", "") for hit in retriever.retrieve(question)]

    return {mode: search(retrievers[mode]) for mode in modes}


def answer(args: argparse.Namespace, phases: Phases) -> tuple[Ask, dict[str, Any]]:
    with phases.timed("import"):
        import chromadb
        import torch
        from llama_index.core import Settings, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.llms.huggingface import HuggingFaceLLM
        from llama_index.vector_stores.chroma import ChromaVectorStore
        from transformers import AutoTokenizer
    with phases.timed("setup"):
        collection = chromadb.PersistentClient(path=str(args.store)).get_collection(COLLECTION)
        index = VectorStoreIndex.from_vector_store(
            ChromaVectorStore(chroma_collection=collection), embed_model=HuggingFaceEmbedding(model_name=str(args.model))
        )
        folder = str(args.generator)
        Settings.tokenizer = AutoTokenizer.from_pretrained(folder).encode
        llm = HuggingFaceLLM(
            model_name=folder,
            tokenizer_name=folder,
            max_new_tokens=args.max_new_tokens,
            device_map="cpu",
            model_kwargs={"dtype": getattr(torch, args.dtype)},
            generate_kwargs={"do_sample": False},
            is_chat_model=True,
        )
        engine = index.as_query_engine(llm=llm, similarity_top_k=args.k)
    prompts = engine.get_prompts()
    qa = prompts.get("response_synthesizer:text_qa_template")
    chosen = qa.select(llm) if hasattr(qa, "select") else qa

    def ask(question: str) -> tuple[str, list[str]]:
        response = engine.query(question)
        return str(response.response or ""), [hit.node.metadata.get("file_path", "") for hit in response.source_nodes]

    settings = {
        "query_engine": f"index.as_query_engine(llm=HuggingFaceLLM(...), similarity_top_k={args.k}), response mode compact",
        "llm": f"HuggingFaceLLM(model_name=tokenizer_name=FOLDER, is_chat_model=True, max_new_tokens={args.max_new_tokens}, "
        f"generate_kwargs={{'do_sample': False}}, dtype={args.dtype}, device_map='cpu')",
        "text_qa_template": [{"role": m.role.value, "content": m.content} for m in chosen.message_templates]
        if hasattr(chosen, "message_templates") else getattr(chosen, "template", str(chosen)),
        "context_window": llm.context_window,
        "retrieval": "dense",
    }
    return ask, settings


if __name__ == "__main__":
    main("LlamaIndex", ingest, retrieve, ("dense", "keyword", "hybrid"), answer)
