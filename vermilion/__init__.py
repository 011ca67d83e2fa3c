"""Vermilion: a Redis 7.0-compatible in-memory data server, in Python.

Start one from Python (see :mod:`vermilion.embed`)::

    from vermilion import start_server
    with start_server() as srv:          # a real server on a free port, own thread
        redis.Redis(port=srv.port).ping()

or from the shell: ``vermilion --port 6379`` / ``python -m vermilion``.
"""
__version__ = "0.1.0"
REDIS_VERSION = "7.0.15"   # the Redis whose behaviour we promise


def start_server(*args, **kwargs):
    from .embed import start_server as _start
    return _start(*args, **kwargs)
