"""Function libraries (functions.c): the registry FUNCTION LOAD/DELETE/... change.

A :class:`Libraries` is Redis's ``functionsLibCtx``: libraries by name (case
sensitive) and all their functions by name (case insensitive, as FCALL looks
them up). Loading a library runs its code once in the FUNCTION interpreter with
a restricted API (``redis.register_function``, ``redis.log``): the functions it
registers become callable; nothing else it did survives.

Besides the commands, the registry serves persistence (``server.function_codes``:
calling it returns the library codes for RDB ``FUNCTION2`` records and AOF
rewrites; ``server.function_restore``: ``restore(codes, replace)`` loads them back;
``flush()`` drops them all, as emptying the dataset does) and
INFO (``server.function_libraries``: ``len()``, ``values()``).
"""

import time

from ..protocol.reader import split_args
from .engine import AVAILABLE, NOT_AVAILABLE

LIBRARY_NAME_ERROR = (
    "Library names can only contain letters, numbers, or underscores(_) "
    "and must be at least one character long"
)


def valid_name(name):
    """functionsVerifyName: [A-Za-z0-9_]+"""
    if not name:
        return False
    for ch in name:
        if not (48 <= ch <= 57 or 65 <= ch <= 90 or 97 <= ch <= 122 or ch == 95):
            return False
    return True


class Function:
    __slots__ = ("name", "callback", "desc", "flags", "library")

    def __init__(self, name, callback, desc, flags, library):
        self.name = name
        self.callback = callback
        self.desc = desc
        self.flags = flags
        self.library = library


class Library:
    __slots__ = ("name", "engine", "code", "functions")

    def __init__(self, name, code):
        self.name = name
        self.engine = b"LUA"
        self.code = code
        self.functions = {}  # name -> Function, case sensitive, in registration order

    def add_function(self, name, callback, desc, flags):
        """functionLibCreateFunction: None, or the error text."""
        if not valid_name(name):
            return LIBRARY_NAME_ERROR
        if name in self.functions:
            return "Function already exists in the library"
        self.functions[name] = Function(name, callback, desc, flags, self)
        return None


class LibraryError(Exception):
    pass


def parse_metadata(code):
    """functionExtractLibMetaData: (engine, name, code after the shebang line)."""
    if not code.startswith(b"#!"):
        raise LibraryError("Missing library metadata")
    nl = code.find(b"\n")
    if nl < 0:
        raise LibraryError("Invalid library metadata")
    parts = split_args(code[:nl])
    if not parts:
        raise LibraryError("Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise LibraryError("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise LibraryError("Invalid metadata value given: %s" % cstr(part))
    if name is None:
        raise LibraryError("Library name was not given")
    return engine, name, code[nl:]


def cstr(b):
    """bytes as a C string would print them (up to the first NUL)."""
    z = b.find(b"\0")
    if z >= 0:
        b = b[:z]
    return b.decode("utf-8", "surrogateescape")


class Libraries:
    """functionsLibCtx: libraries by name, functions by lower-case name."""

    def __init__(self, scripting):
        self.scripting = scripting
        self.libraries = {}
        self.functions = {}

    # ----------------------------------------------------- persistence API
    def __call__(self):
        """The library codes, for RDB FUNCTION2 records and AOF rewrites."""
        return [lib.code for lib in self.libraries.values()]

    def __len__(self):
        return len(self.libraries)

    def values(self):
        return self.libraries.values()

    def function_count(self):
        return len(self.functions)

    def restore(self, codes, replace=True):
        """RDB load: add the libraries. With ``replace`` a library of the same name is
        replaced and a library that fails is skipped with a warning; without it
        (DEBUG RELOAD NOFLUSH, an AOF's RDB base) the first failure, such as a name
        already loaded, raises ValueError: Redis fails the load there (the
        libraries before it stay)."""
        for code in codes:
            if not AVAILABLE:
                self._keep_code_only(code)
                continue
            try:
                self.create(code, replace=replace, timeout=None)
            except LibraryError as e:
                if not replace:
                    raise ValueError(str(e))
                self.scripting.server.log_warning("Failed creating function, %s" % e)

    def _keep_code_only(self, code):
        """Without Lua (lupa missing) a library found loading cannot run, but it is
        the user's data: keep its code, so SAVE, FUNCTION DUMP and replication pass
        it on unchanged, and FCALL answers the "install lupa" error."""
        try:
            _, name, _ = parse_metadata(code)
        except LibraryError as e:
            self.scripting.server.log_warning("Failed creating function, %s" % e)
            return
        lib = Library(name, code)
        old = self.libraries.get(name)
        if old is not None:
            self._unlink(old)
        self._link(lib)
        self.scripting.server.log_warning(
            "Function library '%s' kept as code only: %s" % (cstr(name), NOT_AVAILABLE[4:])
        )

    # ------------------------------------------------------------ lookup
    def find_function(self, name):
        return self.functions.get(name.lower())

    # ------------------------------------------------------------ change
    def _link(self, lib):
        for fname, fn in lib.functions.items():
            self.functions.setdefault(fname.lower(), fn)
        self.libraries[lib.name] = lib

    def _unlink(self, lib):
        for fname, fn in lib.functions.items():
            if self.functions.get(fname.lower()) is fn:
                del self.functions[fname.lower()]
        self.libraries.pop(lib.name, None)

    def create(self, code, replace=False, timeout=0.5):
        """functionsCreateWithLibraryCtx: load ``code``; the library name, or LibraryError."""
        engine_name, name, body = parse_metadata(code)
        if not valid_name(name):
            raise LibraryError(LIBRARY_NAME_ERROR)
        if engine_name.lower() != b"lua":
            raise LibraryError("Engine '%s' not found" % cstr(engine_name))
        st = self.scripting
        engine = st.function_engine
        old = self.libraries.get(name)
        if old is not None and not replace:
            raise LibraryError("Library '%s' already exists" % cstr(name))
        if old is not None:
            self._unlink(old)
        try:
            lib = Library(name, code)
            deadline = None if not timeout else time.monotonic() + timeout
            saved = st.load_ctx
            st.load_ctx = (lib, deadline)
            try:
                r = engine.load_fn(body)
            finally:
                st.load_ctx = saved
            if r.__class__ is tuple and not r[0]:
                msg = r[1]
                raise LibraryError(
                    msg.decode("utf-8", "surrogateescape") if isinstance(msg, bytes) else str(msg)
                )
            if not lib.functions:
                raise LibraryError("No functions registered")
            for fname in lib.functions:
                if fname.lower() in self.functions:
                    raise LibraryError("Function %s already exists" % cstr(fname))
        except BaseException:
            if old is not None:
                self._link(old)
            raise
        self._link(lib)
        return name

    def delete(self, name):
        lib = self.libraries.get(name)
        if lib is None:
            return False
        self._unlink(lib)
        return True

    def flush(self):
        self.libraries = {}
        self.functions = {}

    def join(self, other, replace):
        """libraryJoin: move every library of ``other`` in (LibraryError on collision)."""
        replaced = []
        try:
            for name, lib in other.libraries.items():
                old = self.libraries.get(name)
                if old is not None:
                    if not replace:
                        raise LibraryError("Library %s already exists" % cstr(name))
                    self._unlink(old)
                    replaced.append(old)
            for fname, fn in other.functions.items():
                if fname in self.functions:
                    raise LibraryError("Function %s already exists" % cstr(fn.name))
        except LibraryError:
            for old in replaced:
                self._link(old)
            raise
        for lib in other.libraries.values():
            self._link(lib)
