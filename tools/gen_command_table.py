"""Regenerate vermilion/core/spec.json from a running Redis 7.0 server.

The command table's *metadata* (arity, flags, key positions, key specs, ACL
categories, tips, sub-commands and the COMMAND DOCS text) is the public
interface of Redis: we record it from the reference server's own answers to
COMMAND INFO and COMMAND DOCS so that our COMMAND replies are byte-identical.
Implementations are bound to these entries by ``@command`` in each family module.

Usage: python tools/gen_command_table.py [HOST [PORT]]   (default 127.0.0.1 6379)

The JSON keeps RESP3 types with small tags so the reply can be rebuilt in either
protocol: ``{"+": s}`` simple string, ``{"%": [k, v, ...]}`` map, ``{"~": [...]}``
set; plain strings are bulk strings, lists arrays, numbers integers.
"""

import json
import socket
import sys


def read_reply(f):
    line = f.readline()[:-2]
    t, rest = line[:1], line[1:]
    if t == b"+":
        return {"+": rest.decode()}
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        data = f.read(n + 2)[:-2]
        return data.decode()
    if t == b"_":
        return None
    if t in (b"*", b"~"):
        items = [read_reply(f) for _ in range(int(rest))]
        return items if t == b"*" else {"~": items}
    if t == b"%":
        items = []
        for _ in range(int(rest)):
            items.append(read_reply(f))
            items.append(read_reply(f))
        return {"%": items}
    raise RuntimeError("unexpected reply type %r" % t)


def call(sock, f, *args):
    sock.sendall(
        b"*%d\r\n" % len(args)
        + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    )
    return read_reply(f)


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 6379
    sock = socket.create_connection((host, port))
    f = sock.makefile("rb")
    call(sock, f, "HELLO", "3")
    info = call(sock, f, "COMMAND", "INFO")
    docs = call(sock, f, "COMMAND", "DOCS")["%"]
    docs = dict(zip(docs[0::2], docs[1::2]))
    out = {}
    for entry in sorted(info, key=lambda e: e[0]):
        out[entry[0]] = {"info": entry}
    # The docs apart: only COMMAND DOCS reads them (core/table.py loads them then).
    for path, data in (
        ("vermilion/core/spec.json", out),
        ("vermilion/core/docs.json", {name: docs.get(name) for name in out}),
    ):
        with open(path, "w") as fh:
            json.dump(data, fh, separators=(",", ":"), sort_keys=True)
        print("wrote %d commands to %s" % (len(data), path))


if __name__ == "__main__":
    main()
