"""``vermilion`` / ``python -m vermilion``: redis-server's command line."""

import asyncio
import gc
import os
import sys

from .version import __version__, REDIS_VERSION
from .acl import check_user_directive  # noqa: F401  (importing acl registers it with the config parser)
from .core.config import config_from_argv, ConfigError
from .server.server import Server, UnixSocketError
from .util import atoi
import time


USAGE = """Usage: vermilion [/path/to/redis.conf] [options] [-]
       vermilion - (read config from stdin)
       vermilion -v or --version
       vermilion -h or --help
       vermilion --test-memory <megabytes>

Examples:
       vermilion (run the server with default conf)
       vermilion /etc/redis/6379.conf
       vermilion --port 7777
       vermilion /etc/myredis.conf --loglevel verbose
       vermilion --port 7777 --save '' --appendonly yes
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print(
            "Vermilion server v=%s (Redis-compatible v=%s) python=%s"
            % (__version__, REDIS_VERSION, sys.version.split()[0])
        )
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "--test-memory":
        if len(argv) == 2:
            from .memtest import memtest  # only for this one-off command

            return memtest(atoi(argv[1].encode()), 50)
        sys.stderr.write("Please specify the amount of memory to test in megabytes.\n")
        sys.stderr.write("Example: vermilion --test-memory 4096\n\n")
        return 1
    # (the rename-command lines of the config name commands of the table)
    from .commands import load_all  # the whole server, only when one is started

    load_all()
    try:
        config = config_from_argv(argv)
    except ConfigError as e:
        if e.msg.startswith("Fatal error, can't open config file"):
            now = time.time()
            sys.stdout.write(
                "%d:C %s.%03d # %s\n"
                % (
                    os.getpid(),
                    time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)),
                    int(now * 1000) % 1000,
                    e.msg,
                )
            )
            return 1
        sys.stderr.write("\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n" % REDIS_VERSION)
        if e.line is not None:
            sys.stderr.write("Reading the configuration file, at line %d\n" % e.lineno)
            sys.stderr.write(">>> '%s'\n" % e.line)
        sys.stderr.write("%s\n" % e.msg)
        return 1
    if config.get("daemonize") == "yes":
        sys.stderr.write(
            "vermilion: daemonize yes is not supported; run it under a supervisor or with '&'\n"
        )
        return 1
    server = Server(config)
    return run(server)


def tune_gc():
    """Keep Python's cycle collector off the request path.

    A server's long-lived objects (its modules, the command table, every list,
    hash, set and sorted set in the dataset) never form garbage cycles worth
    hunting each time a few hundred containers are allocated. What exists at
    start-up is moved out of the collector's sight (gc.freeze) and the youngest
    generation is collected every 50,000 net allocations instead of 700, so the
    collector still finds real cycles (a closed client's) but no longer walks the
    dataset every few thousand writes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50000, 50, 100)


def run(server):
    try:
        import uvloop  # optional accelerator (the fast extra)

        loop = uvloop.new_event_loop()
        loop_name = "uvloop"
    except ImportError:
        loop = asyncio.new_event_loop()
        loop_name = "asyncio"
    asyncio.set_event_loop(loop)
    server.log_warning("oO0OoO0OoO0Oo Vermilion is starting oO0OoO0OoO0Oo")
    server.log_warning(
        "Vermilion version=%s, Redis version=%s, bits=64, pid=%d, just started"
        % (__version__, REDIS_VERSION, os.getpid())
    )
    server.log_notice("Event loop: %s." % loop_name)
    import importlib.util  # start-up cost: only here, to look for lupa without importing it

    if importlib.util.find_spec("lupa") is None:
        server.log_warning(
            'Lua scripting is off: the lupa package is not installed; EVAL and '
            'FCALL will answer an error (pip install "vermilion[lua]").'
        )

    # tune_gc freezes what exists once started: the RDB loaded at startup can be
    # frozen as soon as it is loaded (see Snapshot.freeze_after_startup_load)
    server.snapshot.freeze_after_startup_load = True

    async def go():
        await server.start()
        server.install_signal_handlers()
        tune_gc()
        await server.stopped

    try:
        loop.run_until_complete(go())
    except UnixSocketError:
        return 1  # (logged: "Failed opening Unix socket: ...")
    except OSError:
        # (server.start logged which address and why, as Redis's listenToPort does)
        server.log_warning("Failed listening on port %d (TCP), aborting." % server.port)
        return 1
    except SystemExit as e:
        if isinstance(e.code, str):
            return 1  # a start refused with a reason (LoadFailed): the log has said it
        raise
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
