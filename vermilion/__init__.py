"""Vermilion: a Redis 7.0-compatible in-memory data server, in Python.

Start one from Python (see :mod:`vermilion.embed`)::

    from vermilion import start_server
    with start_server() as srv:          # a real server on a free port, own thread
        redis.Redis(port=srv.port).ping()

or from the shell: ``vermilion --port 6379`` / ``python -m vermilion``.
"""

from .version import __version__, REDIS_VERSION  # noqa: F401  (the package's own)


def start_server(*args, **kwargs):
    # imported on call: ``import vermilion.protocol`` (or any one floor) must not
    # load the whole server
    from .embed import start_server as _start  # start-up cost: the server, on call

    return _start(*args, **kwargs)
