"""The server: its state (``server.py``), configuration (``config.py``), one
connected client (``client.py``), the asyncio I/O layer (``netio.py``), TLS
(``tls.py``), serving clients while the loop is held (``blocked.py``), output
limits (``limits.py``) and memory accounting (``memory.py``)."""
