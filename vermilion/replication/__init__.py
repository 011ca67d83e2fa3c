"""Replication (Redis 7.0's replication.c): Vermilion as a master and as a replica.

* :mod:`.master` — the master side: the replication backlog and
  ``master_repl_offset``, full and partial resynchronisation (PSYNC/SYNC), the
  live command stream to every replica, REPLCONF ACK bookkeeping and WAIT.
  The stream is a second consumer of propagation next to the AOF
  (``server.set_feed_sink("repl", ...)``): it receives the same
  ``feed(dbid, cmds)`` calls and encodes them the same way, SELECT included.
  It is registered only once the first replica attaches, so a server that never
  had a replica pays nothing.
* :mod:`.replica` — the replica side: REPLICAOF host port connects to a master,
  loads its RDB payload and applies its command stream.

The commands (REPLCONF, PSYNC, SYNC, WAIT, REPLICAOF/SLAVEOF, ROLE) live in
:mod:`vermilion.commands.replication`.
"""
