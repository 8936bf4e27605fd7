"""LangChain doing ragkit's ingest and retrieval job, the way its documentation shows (run by setup.sh's langchain venv).

- load: one ``DirectoryLoader`` per file type, each with the loader LangChain documents for it:
  ``PyPDFLoader`` (one document per page), ``BSHTMLLoader`` (BeautifulSoup with lxml, the page's
  text) and ``TextLoader`` for Markdown and text. ``DirectoryLoader``'s own default,
  ``UnstructuredFileLoader``, would pull in unstructured and its system dependencies. With
  ``silent_errors=True`` a file that fails to load (say, a text file not in UTF-8) is skipped
  with a warning instead of ending the run.
- chunk: ``RecursiveCharacterTextSplitter.from_huggingface_tokenizer(tokenizer, chunk_size=200,
  chunk_overlap=30)``: lengths counted in tokens of the embedder's tokenizer.
- embed + write: ``HuggingFaceEmbeddings`` (sentence-transformers ``encode``, its default batch
  size 32) into ``Chroma.from_documents(..., persist_directory=...)`` from langchain-chroma.
- retrieve: ``vector_store.as_retriever(search_kwargs={"k": k})`` (dense); ``BM25Retriever``
  (rank-bm25, whitespace tokens) over the stored chunks (keyword); ``EnsembleRetriever`` of both
  with equal weights, a weighted reciprocal rank fusion (hybrid).
"""

from __future__ import annotations

import argparse
from typing import Any

from peer_common import CHUNK_OVERLAP, CHUNK_TOKENS, Phases, Search, chunk_stats, main

COLLECTION = "langchain"
# glob -> the loader LangChain documents for that file type
LOADERS = {"**/*.pdf": "PyPDFLoader", "**/*.html": "BSHTMLLoader", "**/*.htm": "BSHTMLLoader", "**/*.md": "TextLoader", "**/*.txt": "TextLoader"}


def ingest(args: argparse.Namespace, phases: Phases) -> dict[str, Any]:
    with phases.timed("import"):
        from langchain_chroma import Chroma
        from langchain_community import document_loaders
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from transformers import AutoTokenizer
    with phases.timed("setup"):
        tokenizer = AutoTokenizer.from_pretrained(str(args.model))
        embeddings = HuggingFaceEmbeddings(model_name=str(args.model))
        loaders = [
            document_loaders.DirectoryLoader(
                str(args.folder), glob=glob, loader_cls=getattr(document_loaders, name), silent_errors=True
            )
            for glob, name in LOADERS.items()
        ]
        splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            tokenizer, chunk_size=CHUNK_TOKENS, chunk_overlap=CHUNK_OVERLAP
        )
    with phases.timed("load"):
        documents = [document for loader in loaders for document in loader.load()]
    with phases.timed("chunk"):
        chunks = splitter.split_documents(documents)
    with phases.timed("embed+write"):
        store = Chroma.from_documents(chunks, embeddings, collection_name=COLLECTION, persist_directory=str(args.store))
    return {
        "files": len({document.metadata.get("source") for document in documents}),
        "documents": len(documents),
        "chunks": store._collection.count(),
        "chunk_tokens": chunk_stats([len(tokenizer.tokenize(chunk.page_content)) for chunk in chunks]),
        "settings": {
            "loader": "DirectoryLoader per glob: " + ", ".join(f"{glob} {name}" for glob, name in LOADERS.items()),
            "splitter": f"RecursiveCharacterTextSplitter.from_huggingface_tokenizer(chunk_size={CHUNK_TOKENS}, chunk_overlap={CHUNK_OVERLAP}), MiniLM tokens",
            "embedder": "HuggingFaceEmbeddings, sentence-transformers encode batch_size=32 (default)",
            "store": "langchain_chroma.Chroma(persist_directory=...)",
        },
    }


def retrieve(args: argparse.Namespace, modes: list[str], phases: Phases) -> dict[str, Search]:
    with phases.timed("import"):
        from langchain_chroma import Chroma
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever
        from langchain_core.documents import Document
        from langchain_huggingface import HuggingFaceEmbeddings
    with phases.timed("setup"):
        store = Chroma(
            collection_name=COLLECTION,
            embedding_function=HuggingFaceEmbeddings(model_name=str(args.model)),
            persist_directory=str(args.store),
        )
        retrievers: dict[str, Any] = {"dense": store.as_retriever(search_kwargs={"k": args.k})}
    if "keyword" in modes or "hybrid" in modes:
        with phases.timed("keyword index"):
            stored = store.get(include=["documents", "metadatas"])
            chunks = [Document(page_content=text, metadata=meta) for text, meta in zip(stored["documents"], stored["metadatas"])]
            retrievers["keyword"] = BM25Retriever.from_documents(chunks, k=args.k)
        retrievers["hybrid"] = EnsembleRetriever(retrievers=[retrievers["dense"], retrievers["keyword"]], weights=[0.5, 0.5])

    def search(retriever: Any) -> Search:
        return lambda question: [document.metadata.get("source", "") for document in retriever.invoke(question)]

    return {mode: search(retrievers[mode]) for mode in modes}


if __name__ == "__main__":
    main("LangChain", ingest, retrieve, ("dense", "keyword", "hybrid"))
