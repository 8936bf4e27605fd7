"""Vector stores: persist chunks and their vectors, answer nearest-neighbour queries."""
