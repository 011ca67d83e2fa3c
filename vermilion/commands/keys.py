"""Keyspace commands (db.c, expire.c): DEL, EXISTS, SCAN, EXPIRE, FLUSHDB, ... (being filled in)."""
from ..protocol.encoder import OK
from .table import command


@command("flushdb")
def flushdb(c, argv):
    c.server.dirty += c.db.clear()
    return OK


@command("flushall")
def flushall(c, argv):
    for db in c.server.dbs:
        c.server.dirty += db.clear()
    return OK


@command("dbsize")
def dbsize(c, argv):
    return len(c.db.data)
