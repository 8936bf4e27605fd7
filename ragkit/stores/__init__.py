"""Vector stores: persist chunks and their vectors, answer nearest-neighbour queries."""

# The built-in store types by their YAML name, as import paths: naming them imports nothing heavy.
BUILTINS = {
    "chroma": "ragkit.stores.chroma:ChromaStore",
}
