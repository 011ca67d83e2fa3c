"""The keyspace: databases of keys (``db.py``), their expiry (``expire.py``),
access clocks (``lru.py``), eviction (``evict.py``), blocking operations waiting
on keys (``blocking.py``), SCAN cursors (``scan.py``) and what a key costs in
memory (``sizes.py``)."""
