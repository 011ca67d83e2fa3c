"""Command families, one module each (strings.py, lists.py, ...).

:func:`load_all` imports every module beside it, and each binds its functions
to the command table with ``@command``: adding a family is adding a file. The
server's entry points call it once at start-up.
"""

import importlib
import pkgutil

from ..core.config import DIRECTIVE_CHECKS, ConfigError
from ..core.table import renames


def load_all():
    """Import every command family (idempotent: modules are imported once)."""
    for m in sorted(pkgutil.iter_modules(__path__)):
        if m.name != "table" and not m.name.startswith("_"):
            importlib.import_module("%s.%s" % (__name__, m.name))


def check_rename_directive(config, pairs):
    """``rename-command`` as a config file is read: refused at its line when it
    names no command or a taken name (the table is full once load_all ran)."""
    try:
        renames(pairs)
    except ValueError as e:
        pairs.pop()
        raise ConfigError(str(e))


DIRECTIVE_CHECKS["rename-command"] = check_rename_directive
