"""Transactions (multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH.

While a client is in MULTI, the dispatcher queues its commands (``c.multi``, a
list of ``(command, argv)``) and answers ``+QUEUED``; a command rejected while
queueing (unknown, wrong arity, not allowed) marks the transaction dirty
(``c.dirty_exec``) and EXEC then aborts with EXECABORT.

WATCH is optimistic locking. Each database keeps ``watched``: key -> {client:
flag}. Every write to a key goes through ``Database.signal`` (Redis's
``signalModifiedKey``), which marks the watching clients ``dirty_cas``; EXEC of a
dirty client answers a null array and runs nothing. A key already expired when
WATCHed counts as unchanged if it is merely deleted by expiry, as in Redis.

EXEC runs the queued commands back to back with the clock frozen (like Redis's
``server.in_exec`` + cached command time), with blocking forbidden
(``c.in_exec``: blocking commands answer as if they timed out), and its array
reply is built by writing the header then letting each command append its own
reply.
"""

from ..errors import CommandError
from ..protocol.encoder import OK, NULL_ARRAY, error_bytes
from ..core.table import command
from ..core.dispatch import call
from ..protocol.encoder import NO_REPLY

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


@command("multi")
def multi(c, argv):
    if c.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    c.multi = []
    c.dirty_exec = False
    c.update_special()
    return OK


@command("discard")
def discard(c, argv):
    if c.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    c.discard_transaction()
    return OK


def _watched_key_expired(c):
    for db, key in c.watched:
        clients = db.watched.get(key)
        if clients and clients.get(c):
            continue  # already expired when WATCHed
        when = db.expires.get(key)
        if when is not None and key in db.data and when <= db.now():
            return True
    return False


@command("exec")
def exec_(c, argv):
    if c.multi is None:
        raise CommandError("ERR EXEC without MULTI")
    if c.watched and _watched_key_expired(c):
        c.dirty_cas = True
    if c.dirty_exec or c.dirty_cas:
        dirty_exec = c.dirty_exec
        c.discard_transaction()
        if dirty_exec:
            raise CommandError(EXECABORT)
        return NULL_ARRAY
    queued = c.multi
    c.unwatch_all()
    server = c.server
    c.out.append(b"*%d\r\n" % len(queued))
    c.in_exec = True
    frozen = server.frozen_ms
    if not frozen:
        server.frozen_ms = c.db.now()
    group = server.begin_propagation_group()
    try:
        for cmd, qargv in queued:
            c.cmd = cmd
            if c.acl is not None:  # ACL rules may have changed since it was queued
                err = c.acl.check_exec(c, cmd, qargv)
                if err is not None:
                    server.count_error(err)
                    c.out.append(error_bytes(err))
                    continue
            call(c, cmd, qargv)
    finally:
        server.end_propagation_group(group)
        c.in_exec = False
        server.frozen_ms = frozen
        c.multi = None
        c.dirty_exec = False
        c.update_special()
    return NO_REPLY


@command("watch")
def watch(c, argv):
    if c.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    if c.dirty_cas:
        return OK  # no point watching: EXEC will fail anyway
    db = c.db
    now = None
    for key in argv[1:]:
        if (db, key) in c.watched:
            continue
        expired = False
        when = db.expires.get(key)
        if when is not None and key in db.data:
            if now is None:
                now = db.now()
            expired = when <= now
        db.watched.setdefault(key, {})[c] = expired
        db.update_quiet()
        c.watched.append((db, key))
    return OK


@command("unwatch")
def unwatch(c, argv):
    c.unwatch_all()
    return OK


def _client_gone(c):
    if c.watched:
        c.unwatch_all()
    c.multi = None


from ..core.bootstrap import on_server_init  # noqa: E402


@on_server_init
def _init(server):
    server.add_client_gone_hook(_client_gone)
