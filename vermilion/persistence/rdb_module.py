"""Module data types in RDB: Redis's RDB_TYPE_MODULE_2 record, byte for byte.

A value of a module data type (see :mod:`vermilion.commands.modules`) is saved
as Redis's ``rdbSaveObject`` saves an ``OBJ_MODULE``::

    <type 7> <key> <module id: length> (<opcode: length> <field>)* <EOF opcode 0>

The module id is ``moduleTypeEncodeId``: the type's 9-character name, six bits a
character from the set ``A-Z a-z 0-9 - _``, then the 10-bit encoding version.
The fields are whatever the type's ``rdb_save`` callback writes through a
:class:`ModuleSaveIO`, each behind its opcode (``RDB_MODULE_OPCODE_*``): unsigned
and signed integers as RDB lengths, strings as RDB strings, doubles (8 bytes) and
floats (4 bytes) little-endian binary. Loading checks each opcode as Redis's
``RM_Load*`` do; a type no module registered fails with Redis's text.

:data:`MODULE_TYPES` is the process-wide registry (a Redis process has one
too), filled and emptied by the module API; this file only reads it.
"""

import struct

from .rdb_strings import RdbError, enc_len, enc_string

TYPE_MODULE = 6  # RDB_TYPE_MODULE (pre-4.0 modules: no opcodes, no EOF)
TYPE_MODULE_2 = 7  # RDB_TYPE_MODULE_2

OPCODE_EOF = 0
OPCODE_SINT = 1
OPCODE_UINT = 2
OPCODE_FLOAT = 3
OPCODE_DOUBLE = 4
OPCODE_STRING = 5

CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CHARSET_POS = {ch: i for i, ch in enumerate(CHARSET)}

# id >> 10 (the name part) -> the registered type object, which has ``name``,
# ``id``, ``encver``, ``module_name``, ``rdb_save(io, value)`` and
# ``rdb_load(io, encver) -> value``.
MODULE_TYPES: dict = {}

_U64 = (1 << 64) - 1


def encode_id(name, encver):
    """moduleTypeEncodeId: the 64-bit id of a 9-character type name and its
    encoding version (0..1023); 0 if either is invalid."""
    if len(name) != 9 or not 0 <= encver <= 1023:
        return 0
    mid = 0
    for ch in name:
        pos = _CHARSET_POS.get(ch)
        if pos is None:
            return 0
        mid = (mid << 6) | pos
    return (mid << 10) | encver


def name_of_id(mid):
    """moduleTypeNameByID: the 9-character name packed in a module type id."""
    mid >>= 10
    out = []
    for _ in range(9):
        out.append(CHARSET[mid & 63])
        mid >>= 6
    return "".join(reversed(out))


class ModuleSaveIO:
    """What a type's ``rdb_save(io, value)`` writes with (RedisModuleIO, saving)."""

    __slots__ = ("parts", "compress", "key")

    def __init__(self, compress=True, key=None):
        self.parts = []
        self.compress = compress
        self.key = key

    def save_unsigned(self, v):
        """RM_SaveUnsigned: a 64-bit unsigned integer."""
        self.parts.append(enc_len(OPCODE_UINT) + enc_len(int(v) & _U64))

    def save_signed(self, v):
        """RM_SaveSigned: a 64-bit signed integer (stored as its unsigned bits)."""
        self.parts.append(enc_len(OPCODE_UINT) + enc_len(int(v) & _U64))

    def save_string(self, s):
        """RM_SaveString / RM_SaveStringBuffer: bytes (a str is saved as UTF-8)."""
        if isinstance(s, str):
            s = s.encode()
        self.parts.append(enc_len(OPCODE_STRING) + enc_string(bytes(s), self.compress))

    def save_double(self, d):
        """RM_SaveDouble: a double, 8 bytes little-endian (NaN and infinities too)."""
        self.parts.append(enc_len(OPCODE_DOUBLE) + struct.pack("<d", d))

    def save_float(self, f):
        """RM_SaveFloat: a float, 4 bytes little-endian."""
        self.parts.append(enc_len(OPCODE_FLOAT) + struct.pack("<f", f))


class ModuleLoadIO:
    """What a type's ``rdb_load(io, encver)`` reads with (RedisModuleIO, loading).
    Each read checks the field's opcode (a MODULE_2 record), as Redis does."""

    __slots__ = ("r", "mt", "ver", "key", "start")

    def __init__(self, r, mt, ver, key=None):
        self.r = r
        self.mt = mt
        self.ver = ver  # 1: RDB_TYPE_MODULE (no opcodes), 2: RDB_TYPE_MODULE_2
        self.key = key
        self.start = r.pos

    def _error(self):
        key = self.key
        return RdbError(
            "Error loading data from RDB (short read or EOF). Read performed by module "
            "'%s' about type '%s' after reading '%d' bytes of a value for key named: '%s'."
            % (
                self.mt.module_name,
                self.mt.name,
                self.r.pos - self.start,
                key.decode("utf-8", "replace") if key is not None else "(null)",
            )
        )

    def _opcode(self, want):
        if self.ver == 2:
            try:
                op = self.r.len()
            except RdbError:
                raise self._error() from None
            if op != want:
                raise self._error()

    def load_unsigned(self):
        self._opcode(OPCODE_UINT)
        try:
            return self.r.len()
        except RdbError:
            raise self._error() from None

    def load_signed(self):
        u = self.load_unsigned()
        return u - (1 << 64) if u >= 1 << 63 else u

    def load_string(self):
        """RM_LoadString / RM_LoadStringBuffer: bytes."""
        self._opcode(OPCODE_STRING)
        try:
            return bytes(self.r.string())
        except RdbError:
            raise self._error() from None

    def load_double(self):
        self._opcode(OPCODE_DOUBLE)
        try:
            return struct.unpack("<d", self.r.take(8))[0]
        except RdbError:
            raise self._error() from None

    def load_float(self):
        self._opcode(OPCODE_FLOAT)
        try:
            return struct.unpack("<f", self.r.take(4))[0]
        except RdbError:
            raise self._error() from None


def encode_module_value(mt, v, compress=True, key=None):
    """rdbSaveObject for OBJ_MODULE: the id, the type's fields, the EOF opcode."""
    io = ModuleSaveIO(compress, key)
    mt.rdb_save(io, v)
    return b"".join([enc_len(mt.id)] + io.parts + [enc_len(OPCODE_EOF)])


def load_module_value(r, t, key=None):
    """rdbLoadObject for RDB_TYPE_MODULE(_2): the value, made by its type's
    ``rdb_load``; RdbError (Redis's text) for a type no module registered."""
    mid = r.len()
    mt = MODULE_TYPES.get(mid >> 10)
    if mt is None:
        raise RdbError(
            "The RDB file contains module data I can't load: no matching module type '%s'"
            % name_of_id(mid)
        )
    ver = 1 if t == TYPE_MODULE else 2
    io = ModuleLoadIO(r, mt, ver, key)
    try:
        v = mt.rdb_load(io, mid & 1023)
    except RdbError:
        raise
    except Exception:  # the module's own code failed on what it read
        raise io._error() from None
    if ver == 2:
        eof = r.len()
        if eof != OPCODE_EOF:
            raise RdbError(
                "The RDB file contains module data for the module '%s' that is not "
                "terminated by the proper module value EOF marker" % mt.module_name
            )
    if v is None:
        raise RdbError(
            "The RDB file contains module data for the module type '%s', that the "
            "responsible module is not able to load. Check for modules log above for "
            "additional clues." % mt.module_name
        )
    return v
