"""The data structures behind Redis's types: lists, hashes, sets, sorted sets,
streams, geohashes, each on its own, knowing nothing of clients or commands."""
