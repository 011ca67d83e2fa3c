"""Command families, one module each (strings.py, lists.py, ...).

Importing this package imports every module beside it, and each binds its
functions to the command table with ``@command``: adding a family is adding a file.
"""
import importlib
import pkgutil

for _m in sorted(pkgutil.iter_modules(__path__)):
    if _m.name != "table" and not _m.name.startswith("_"):
        importlib.import_module("%s.%s" % (__name__, _m.name))
