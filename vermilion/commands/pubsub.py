"""Pub/Sub (pubsub.c) and keyspace notifications (notify.c).

Channels map to the clients subscribed to them; patterns likewise, matched
with Redis's glob rules (:mod:`vermilion.globmatch`). PUBLISH encodes each message
once per protocol version and appends it to every receiver's output; the
receivers' sockets are written at the end of the loop step (``write_now``), so
a publisher never waits for subscribers. A subscriber that stops reading is
cut off by ``client-output-buffer-limit pubsub`` (see core/limits.py) instead
of growing memory without bound.

In RESP2 a subscribed client may only (un)subscribe, PING, QUIT and RESET (the
dispatcher enforces it); in RESP3 messages are out-of-band pushes and any
command is allowed.

Keyspace notifications are publications on ``__keyspace@<db>__:<key>`` (message:
the event) and ``__keyevent@<db>__:<event>`` (message: the key), emitted by
commands through ``Database.notify`` when ``notify-keyspace-events`` enables their
class.
"""

from ..errors import subcommand_syntax_error
from ..keyspace import db as dbmod
from ..protocol.encoder import Push, Pushed, encode
from ..core.bootstrap import on_server_init
from ..core.config import keyspace_events_flags
from ..core.table import command
from ..protocol.encoder import NO_REPLY
from ..protocol.encoder import Status
from ..globmatch import compile_pattern


class PubSub:
    """Per-server subscription registry."""

    def __init__(self, server):
        self.server = server
        self.channels = {}  # channel -> {client: None} (insertion-ordered set)
        self.patterns = {}  # pattern -> {client: None}
        self.shard = {}  # shard channel -> {client: None}
        self._compiled = {}  # pattern -> compiled matcher

    # ------------------------------------------------------------ publish
    def publish(self, channel, message, sharded=False):
        receivers = 0
        enc = {}
        subs = (self.shard if sharded else self.channels).get(channel)
        if subs:
            kind = b"smessage" if sharded else b"message"
            for c in list(subs):
                data = enc.get(c.resp)
                if data is None:
                    data = enc[c.resp] = Pushed(encode(Push([kind, channel, message]), c.resp))
                c.write_now(data)
                receivers += 1
        if not sharded and self.patterns:
            for pattern, clients in list(self.patterns.items()):
                if not self._match(pattern, channel):
                    continue
                penc = {}
                for c in list(clients):
                    data = penc.get(c.resp)
                    if data is None:
                        data = penc[c.resp] = Pushed(
                            encode(Push([b"pmessage", pattern, channel, message]), c.resp)
                        )
                    c.write_now(data)
                    receivers += 1
        return receivers

    def _match(self, pattern, channel):
        m = self._compiled.get(pattern)
        if m is None:
            m = compile_pattern(pattern)
            if len(self._compiled) > 10000:
                self._compiled.clear()
            self._compiled[pattern] = m
        return m(channel)

    # -------------------------------------------------------- subscribing
    def subscribe(self, c, channel, sharded=False):
        mine = c.ssubscriptions if sharded else c.subscriptions
        if channel in mine:
            return False
        mine.add(channel)
        (self.shard if sharded else self.channels).setdefault(channel, {})[c] = None
        return True

    def unsubscribe(self, c, channel, sharded=False):
        mine = c.ssubscriptions if sharded else c.subscriptions
        if channel not in mine:
            return False
        mine.discard(channel)
        table = self.shard if sharded else self.channels
        subs = table.get(channel)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del table[channel]
        return True

    def shard_unsubscribe_all(self, channel):
        """pubsubShardUnsubscribeAllClients: our node stopped serving the
        channel's slot, so every subscriber is told it is unsubscribed."""
        subs = self.shard.pop(channel, None) or {}
        for c in list(subs):
            c.ssubscriptions.discard(channel)
            _confirm(c, b"sunsubscribe", channel, _shard_count(c))
            c.update_special()
            self.server.schedule_flush(c)

    def psubscribe(self, c, pattern):
        if pattern in c.psubscriptions:
            return False
        c.psubscriptions.add(pattern)
        self.patterns.setdefault(pattern, {})[c] = None
        return True

    def punsubscribe(self, c, pattern):
        if pattern not in c.psubscriptions:
            return False
        c.psubscriptions.discard(pattern)
        subs = self.patterns.get(pattern)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del self.patterns[pattern]
                self._compiled.pop(pattern, None)
        return True

    def drop_client(self, c):
        for ch in list(c.subscriptions):
            self.unsubscribe(c, ch)
        for ch in list(c.ssubscriptions):
            self.unsubscribe(c, ch, True)
        for p in list(c.psubscriptions):
            self.punsubscribe(c, p)

    # ------------------------------------------------- keyspace events
    def keyspace_event(self, kind, event, key, dbid):
        flags = self.server.notify_flags
        if flags & dbmod.NOTIFY_KEYSPACE:
            self.publish(b"__keyspace@%d__:%s" % (dbid, key), event.encode())
        if flags & dbmod.NOTIFY_KEYEVENT:
            self.publish(b"__keyevent@%d__:%s" % (dbid, event.encode()), key)


@on_server_init
def _init(server):
    ps = server.pubsub = PubSub(server)
    server.keyspace_event_handler = ps.keyspace_event
    server.add_client_gone_hook(ps.drop_client)

    def apply_flags(value):
        server.notify_flags = keyspace_events_flags(value) or 0

    server.config.add_hook("notify-keyspace-events", apply_flags)
    apply_flags(server.config.get("notify-keyspace-events") or "")


# --------------------------------------------------------------- commands
def _confirm(c, kind, name, count):
    c.out.append(Pushed(encode(Push([kind, name, count]), c.resp)))


def _count(c):
    return len(c.subscriptions) + len(c.psubscriptions)


def _shard_count(c):
    return len(c.ssubscriptions)


# (P|S)(UN)SUBSCRIBE share one shape: act on each name, confirm each with the
# client's subscription count after it. UNSUBSCRIBE without names means "all of
# them", and with none to drop it still confirms once, with a null name.
_KINDS = {
    # name: (confirmation, registry method, extra args, current set, count)
    "subscribe": (b"subscribe", "subscribe", (), None, _count),
    "unsubscribe": (b"unsubscribe", "unsubscribe", (), "subscriptions", _count),
    "psubscribe": (b"psubscribe", "psubscribe", (), None, _count),
    "punsubscribe": (b"punsubscribe", "punsubscribe", (), "psubscriptions", _count),
    "ssubscribe": (b"ssubscribe", "subscribe", (True,), None, _shard_count),
    "sunsubscribe": (b"sunsubscribe", "unsubscribe", (True,), "ssubscriptions", _shard_count),
}


def _subscription_command(name):
    kind, method, extra, current, count = _KINDS[name]

    def run(c, argv):
        act = getattr(c.server.pubsub, method)
        names = argv[1:]
        if current is not None and not names:
            names = list(getattr(c, current))
            if not names:
                _confirm(c, kind, None, count(c))
        for n in names:
            act(c, n, *extra)
            _confirm(c, kind, n, count(c))
        c.update_special()
        return NO_REPLY

    run.__name__ = name
    return command(name)(run)


for _name in _KINDS:
    _subscription_command(_name)


@command("publish")
def publish(c, argv):
    server = c.server
    n = server.pubsub.publish(argv[1], argv[2])
    if server.cluster_bus is not None:
        server.cluster_bus.propagate_publish(argv[1], argv[2], False)  # every node's subscribers
    else:
        server.force_replication(c, argv)  # replicas' subscribers get it too; not the AOF
    return n


@command("spublish")
def spublish(c, argv):
    server = c.server
    n = server.pubsub.publish(argv[1], argv[2], sharded=True)
    if server.cluster_bus is not None:
        server.cluster_bus.propagate_publish(argv[1], argv[2], True)  # the shard's nodes
    else:
        server.force_replication(c, argv)
    return n


@command("pubsub|channels")
def pubsub_channels(c, argv):
    return _list_channels(c.server.pubsub.channels, argv)


@command("pubsub|shardchannels")
def pubsub_shardchannels(c, argv):
    return _list_channels(c.server.pubsub.shard, argv)


def _list_channels(table, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    if len(argv) > 2:
        m = compile_pattern(argv[2])
        return [ch for ch in table if m(ch)]
    return list(table)


@command("pubsub|numsub")
def pubsub_numsub(c, argv):
    out = []
    for ch in argv[2:]:
        out.append(ch)
        out.append(len(c.server.pubsub.channels.get(ch, ())))
    return out


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(c, argv):
    out = []
    for ch in argv[2:]:
        out.append(ch)
        out.append(len(c.server.pubsub.shard.get(ch, ())))
    return out


@command("pubsub|numpat")
def pubsub_numpat(c, argv):
    return len(c.server.pubsub.patterns)


@command("pubsub|help")
def pubsub_help(c, argv):
    lines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ]
    return [Status(x) for x in lines]
