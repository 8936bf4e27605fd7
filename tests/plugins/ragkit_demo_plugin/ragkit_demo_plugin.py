"""A third-party chunker: fixed windows of characters. It imports only ragkit's public contract."""

from ragkit.chunkers.base import TokenCounter
from ragkit.stage import StageConfig
from ragkit.types import Chunk, Document


class FixedChunker:
    class Config(StageConfig):
        width: int = 100

    def __init__(self, config: Config, *, counter: TokenCounter):
        self.config = config
        self.counter = counter

    def chunk(self, document: Document) -> list[Chunk]:
        width = self.config.width
        return [
            Chunk(
                document.text[start : start + width],
                {**document.metadata, "ordinal": ordinal, "start": start, "end": min(start + width, len(document.text))},
            )
            for ordinal, start in enumerate(range(0, len(document.text), width))
        ]
