"""Command families, one module each (strings.py, lists.py, ...).

:func:`load_all` imports every module beside it, and each binds its functions
to the command table with ``@command``: adding a family is adding a file. The
server's entry points call it once at start-up.
"""

import importlib
import pkgutil


def load_all():
    """Import every command family (idempotent: modules are imported once)."""
    for m in sorted(pkgutil.iter_modules(__path__)):
        if m.name != "table" and not m.name.startswith("_"):
            importlib.import_module("%s.%s" % (__name__, m.name))
