"""Where the tests find the repository's sample documents and the shared test material."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = REPO / "sample_docs"
SHARED = REPO.parent / "shared"
