"""Features attach themselves to each new Server here.

A module that needs per-server state or hooks (blocking operations, pub/sub,
persistence, ...) decorates a function with :func:`on_server_init`; every
:class:`~vermilion.server.server.Server` calls those functions at the end of its
construction, in registration order. So the server core never imports features.
"""

INIT_HOOKS: list = []


def on_server_init(fn):
    INIT_HOOKS.append(fn)
    return fn
