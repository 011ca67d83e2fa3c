"""The API a Vermilion module is written with: server-side commands and data
types in Python (what Redis modules are in C). See docs/MODULES.md and
examples/modules/.

A module is a Python file with ``on_load(module, args)``::

    from vermilion.module import OK, ReplyError

    def on_load(module, args):
        module.init("hello", ver=1)

        @module.command("hello.set", arity=3, flags="write deny-oom fast",
                        first_key=1, last_key=1, step=1)
        def hello_set(ctx, argv):
            ctx.set(argv[1], argv[2])
            return OK

Load it with ``vermilion --loadmodule hello.py``, ``MODULE LOAD /path/hello.py``
or ``vermilion.start_server(modules=["hello.py"])``.
"""

from .commands.modules import (  # noqa: F401  (the public names)
    MODULES,
    NOTIFY,
    Context,
    Module,
    ModuleLoadError,
    ModuleType,
    ReplyError,
    load_module,
    unload_module,
)
from .errors import WRONGTYPE, SYNTAX, NOT_INT, NOT_FLOAT  # noqa: F401
from .persistence.rdb_module import ModuleLoadIO, ModuleSaveIO, encode_id, name_of_id  # noqa: F401
from .protocol.encoder import OK, Map, Status, Set  # noqa: F401

__all__ = [
    "Module",
    "ModuleType",
    "Context",
    "ReplyError",
    "ModuleLoadError",
    "ModuleSaveIO",
    "ModuleLoadIO",
    "load_module",
    "unload_module",
    "encode_id",
    "name_of_id",
    "MODULES",
    "NOTIFY",
    "OK",
    "Map",
    "Set",
    "Status",
    "WRONGTYPE",
    "SYNTAX",
    "NOT_INT",
    "NOT_FLOAT",
]
