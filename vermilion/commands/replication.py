"""Replication commands: REPLCONF, PSYNC, SYNC, WAIT, REPLICAOF/SLAVEOF, ROLE.

The machinery lives in :mod:`vermilion.replication` (``master.py`` for the
master side, ``replica.py`` for the link to our own master); these functions
parse arguments and answer with Redis 7.0.15's exact replies and errors.
"""

from ..core.table import command
from ..protocol.encoder import NO_REPLY
from ..errors import CommandError, SYNTAX
from ..protocol.encoder import OK, Raw
from ..core.bootstrap import on_server_init
from ..replication.failover import NO_FAILOVER, Failover, accept_failover_psync, find_replica
from ..replication.master import ReplMaster, new_replid
from ..replication.replica import ReplicaLink
from ..util import parse_int, parse_ll
from ..keyspace.blocking import parse_timeout_ms, deny_blocking, block

_NOT_INT = "ERR value is not an integer or out of range"


@on_server_init
def _init(server):
    server.replid = new_replid()
    server.replid2 = "0" * 40
    server.master_repl_offset = 0
    server.repl = ReplMaster(server)
    server.repl_link = ReplicaLink(server)
    server.failover = Failover(server)
    server.add_cron_hook(server.failover.update)
    server.add_client_gone_hook(server.repl.client_gone)
    server.add_client_gone_hook(server.repl_link.client_gone)
    server.extra_checks = tuple(server.extra_checks) + (_check_command,)
    cfg = server.config

    def min_replicas(value):
        # the rule is on while both are set; it needs the dispatcher's slow path
        on = bool(cfg.get_int("min-replicas-to-write") and cfg.get_int("min-replicas-max-lag"))
        server.repl.min_replicas = cfg.get_int("min-replicas-to-write") if on else 0
        server.set_special("min-replicas", on)

    cfg.add_hook("min-replicas-to-write", min_replicas)
    cfg.add_hook("min-replicas-max-lag", min_replicas)
    min_replicas(None)
    server.hooks_on_shutdown = list(server.hooks_on_shutdown) + [server.repl_link.on_shutdown]


def _check_command(c, cmd, argv):
    """processCommand's replication checks: NOREPLICAS on a master without enough good
    replicas (min-replicas-to-write/max-lag), then the replica's own checks."""
    server = c.server
    link = server.repl_link
    if link.host is None and not server.repl.min_replicas:
        return None
    if c is server.loading_client:
        return None  # the AOF replay (loadSingleAppendOnlyFile skips processCommand)
    is_write = cmd.is_write or (
        cmd.fullname == "exec" and bool(c.multi) and any(_queued_write(c, q, a) for q, a in c.multi)
    )
    stale = None
    if cmd.fullname in _SCRIPT_COMMANDS and server.script_may_write is not None:
        # getCommandFlags: a script's declared flags make it a write (unless
        # no-writes) and deny it on a stale replica (unless allow-stale)
        if not is_write and server.script_may_write(c, cmd, argv):
            is_write = True
        stale = server.script_allow_stale(c, cmd, argv)
    if link.host is None:
        if is_write and server.repl.good_replicas() < server.repl.min_replicas:
            return "NOREPLICAS Not enough good replicas to write."
        return None
    return link.check_command(c, cmd, argv, is_write, stale)


_SCRIPT_COMMANDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))


def _queued_write(c, cmd, argv):
    """A command queued in MULTI makes EXEC a write (mstate.cmd_flags): a script
    that declared it may write does too."""
    if cmd.is_write:
        return True
    hook = c.server.script_may_write
    return cmd.fullname in _SCRIPT_COMMANDS and hook is not None and bool(hook(c, cmd, argv))


# ------------------------------------------------------------------ REPLCONF
@command("replconf")
def replconf(c, argv):
    if len(argv) % 2 == 0:
        raise CommandError(SYNTAX)
    server = c.server
    repl = server.repl
    for j in range(1, len(argv), 2):
        opt = argv[j].lower()
        val = argv[j + 1]
        if opt == b"listening-port":
            port = parse_int(val, _NOT_INT)
            repl.replica_for(c).listening_port = port
        elif opt == b"ip-address":
            if len(val) >= 256:  # NET_HOST_STR_LEN
                raise CommandError(
                    "ERR REPLCONF ip-address provided by replica instance is "
                    "too long: %d bytes" % len(val)
                )
            repl.replica_for(c).ip = val.decode("utf-8", "replace")
        elif opt == b"capa":
            v = val.lower()
            if v in (b"eof", b"psync2"):
                repl.replica_for(c).capa.add(v.decode())
        elif opt == b"ack":
            if not repl.is_replica(c):
                return NO_REPLY
            off = parse_ll(val)
            if off is None:
                return NO_REPLY
            repl.ack(c, off)
            return NO_REPLY
        elif opt == b"getack":
            link = server.repl_link
            if link.host is not None:
                link.send_ack()
            return NO_REPLY
        elif opt == b"rdb-only":
            v = parse_int(val, _NOT_INT)
            if v < 0 or v > 1:
                raise CommandError("ERR value is out of range, value must between 0 and 1")
            repl.replica_for(c).rdb_only = v == 1
        elif opt == b"rdb-filter-only":
            functions_only = False
            for f in val.split():
                if f.lower() != b"functions":
                    raise CommandError(
                        "ERR Unsupported rdb-filter-only option: %s" % f.decode("utf-8", "replace")
                    )
                functions_only = True
            repl.replica_for(c).functions_only = functions_only
        else:
            raise CommandError(
                "ERR Unrecognized REPLCONF option: %s" % argv[j].decode("utf-8", "replace")
            )
    return OK


# ---------------------------------------------------------------- PSYNC/SYNC
def _sync(c, argv, psync):
    server = c.server
    repl = server.repl
    if repl.is_replica(c):
        return NO_REPLY  # already a replica: ignored, like Redis
    if psync and len(argv) > 3 and argv[3].lower() == b"failover":
        err = accept_failover_psync(c, argv)  # our master hands over its role
        if err is not None:
            raise CommandError(err)
    if server.failover.state != NO_FAILOVER:
        raise CommandError("NOMASTERLINK Can't SYNC while failing over")
    link = server.repl_link
    if link.host is not None and not link.connected():
        raise CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
    if c.out:
        raise CommandError("ERR SYNC and PSYNC are invalid with pending output")
    if psync:
        replid = argv[1].decode("utf-8", "replace")
        offset = parse_ll(argv[2])
        if offset is None:
            # syncCommand: a PSYNC offset that is not a number is an error
            r = repl.replica_for(c)
            server.log_notice(
                "Replica %s:%d asks for synchronization" % (r.address(), r.listening_port)
            )
            server.log_warning(
                "Replica %s:%d asks for synchronization but with a wrong offset"
                % (r.address(), r.listening_port)
            )
            raise CommandError(_NOT_INT)
        repl.sync(c, True, replid, offset)
    else:
        repl.sync(c, False)
    return NO_REPLY


@command("psync")
def psync(c, argv):
    return _sync(c, argv, True)


@command("sync")
def sync(c, argv):
    return _sync(c, argv, False)


# ------------------------------------------------------------------ FAILOVER
@command("failover")
def failover(c, argv):
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (failoverCommand)."""
    server = c.server
    fo = server.failover
    if server.cluster is not None:
        raise CommandError(
            "ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead."
        )
    n = len(argv)
    if n == 2 and argv[1].lower() == b"abort":
        if fo.state == NO_FAILOVER:
            raise CommandError("ERR No failover in progress.")
        fo.abort("Failover manually aborted")
        return OK
    timeout = 0
    host = None
    port = 0
    force = False
    j = 1
    while j < n:
        a = argv[j].lower()
        if a == b"timeout" and j + 1 < n and timeout == 0:
            timeout = parse_int(argv[j + 1])
            if timeout <= 0:
                raise CommandError("ERR FAILOVER timeout must be greater than 0")
            j += 1
        elif a == b"to" and j + 2 < n and host is None:
            port = parse_int(argv[j + 2])
            host = argv[j + 1].decode("utf-8", "replace")
            j += 2
        elif a == b"force" and not force:
            force = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    if fo.state != NO_FAILOVER:
        raise CommandError("ERR FAILOVER already in progress.")
    if server.repl_link.host is not None:
        raise CommandError("ERR FAILOVER is not valid when server is a replica.")
    if not server.repl.replicas:
        raise CommandError("ERR FAILOVER requires connected replicas.")
    if force and (not timeout or host is None):
        raise CommandError(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
        )
    if host is not None:
        r = find_replica(server, host, port)
        if r is None:
            raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
        if r.state != "online":
            raise CommandError("ERR FAILOVER target replica is not online.")
    fo.start(host, port, timeout, force)
    return OK


# ---------------------------------------------------------------------- WAIT
@command("wait")
def wait(c, argv):
    server = c.server
    if server.repl_link.host is not None:
        raise CommandError(
            "ERR WAIT cannot be used with replica instances. Please also note that since "
            "Redis 4.0 if a replica is configured to be writable (which is not the default) "
            "writes to replicas are just local and are not propagated."
        )
    num = parse_int(argv[1], _NOT_INT)
    deadline = parse_timeout_ms(argv[2])
    repl = server.repl
    offset = repl.woff.get(c.id, 0)
    acks = repl.count_acks(offset)
    if acks >= num or c.multi is not None or deny_blocking(c):
        return acks
    block(c, (), deadline, _never_served, timeout_reply=acks)
    repl.waiting.append((c, offset, num))
    repl.request_ack()
    return NO_REPLY


def _never_served(c, key):
    return None


# ------------------------------------------------------------ REPLICAOF/ROLE
def _replicaof(c, argv):
    server = c.server
    if server.cluster is not None:
        # replication follows the cluster's configuration (CLUSTER REPLICATE)
        raise CommandError("ERR REPLICAOF not allowed in cluster mode.")
    if server.failover.state != NO_FAILOVER:
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    link = server.repl_link
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if link.host is not None:
            link.unset_master()
            server.log_notice(
                "MASTER MODE enabled (user request from 'id=%d addr=%s')" % (c.id, c.addr)
            )
        return OK
    if server.repl.is_replica(c):
        raise CommandError("ERR Command is not valid when client is a replica.")
    port = parse_ll(argv[2])
    if port is None or port < 0 or port > 65535:
        raise CommandError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    if link.host is not None and link.host.lower() == host.lower() and link.port == port:
        server.log_notice(
            "REPLICAOF would result into synchronization with the master we "
            "are already connected with. No operation performed."
        )
        return Raw(b"+OK Already connected to specified master\r\n")
    link.set_master(host, port)
    server.log_notice(
        "REPLICAOF %s:%d enabled (user request from 'id=%d addr=%s')" % (host, port, c.id, c.addr)
    )
    return OK


@command("replicaof")
def replicaof(c, argv):
    return _replicaof(c, argv)


@command("slaveof")
def slaveof(c, argv):
    return _replicaof(c, argv)


@command("role")
def role(c, argv):
    server = c.server
    link = server.repl_link
    if link.host is not None:
        return link.role_reply()
    return [b"master", server.master_repl_offset, server.repl.role_entries()]


def info_lines(server):
    """INFO's replication section (genRedisInfoString, "replication")."""
    cfg = server.config
    repl = server.repl
    link = server.repl_link
    if link.host is not None:
        lines = ["# Replication", "role:slave"] + link.info_lines()
    else:
        lines = ["# Replication", "role:master"]
    lines.append("connected_slaves:%d" % len(repl.replicas))
    if cfg.get_int("min-replicas-to-write") and cfg.get_int("min-replicas-max-lag"):
        lines.append("min_slaves_good_slaves:%d" % repl.good_replicas())
    lines += repl.info_lines()
    lines += [
        "master_failover_state:%s" % server.failover.state,
        "master_replid:%s" % server.replid,
        "master_replid2:%s" % server.replid2,
        "master_repl_offset:%d" % server.master_repl_offset,
        "second_repl_offset:%d" % repl.second_replid_offset,
        "repl_backlog_active:%d" % (1 if repl.backlog is not None else 0),
        "repl_backlog_size:%d" % repl.backlog_size,
        "repl_backlog_first_byte_offset:%d" % repl.first_byte_offset(),
        "repl_backlog_histlen:%d" % repl.histlen(),
    ]
    return lines
