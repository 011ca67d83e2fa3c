"""The configuration system (vermilion/core/config.py) and CONFIG on a live server.

Byte-for-byte comparisons with redis-server live in tests/differential/test_server_cmds.py
(CONFIG GET/SET) and tests/test_cli.py (config files, the command line, CONFIG REWRITE);
this file checks the parts only Vermilion can show: the Python API other modules use
(hooks, validators, set_many's rollback), config-file parsing, and that a new value
reaches the running server.
"""

import os

import pytest
import redis

from vermilion.embed import start_server
from vermilion.core import config as cfgmod
from vermilion.core.config import Config, ConfigError, memtoull


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "text,value",
    [
        ("0", 0),
        ("1", 1),
        ("1k", 1000),
        ("1kb", 1024),
        ("1KB", 1024),
        ("2m", 2000000),
        ("2mb", 2 * 1024**2),
        ("3g", 3 * 10**9),
        ("3gb", 3 * 1024**3),
        ("5b", 5),
        ("", 0),
        ("mb", 0),
    ],
)
def test_memtoull_accepts(text, value):
    assert memtoull(text) == value


@pytest.mark.parametrize("text", ["-1", "1x", "1 kb", " 1", "1.5mb", "1tb", "0x10"])
def test_memtoull_refuses(text):
    assert memtoull(text) is None


def test_every_redis_parameter_has_its_default():
    c = Config()
    for name, value in cfgmod.DEFAULTS.items():
        if name != "dir":
            assert c.get(name) == value, name
    assert c.get("dir") == os.getcwd()
    assert sorted(c.names()) == sorted(cfgmod.DEFAULTS)


def test_normalise_kinds():
    c = Config()
    assert c.set("appendonly", "YES", apply=False) == "yes"
    assert c.set("maxmemory", "1mb") == "1048576"
    assert c.set("maxmemory-clients", "10%") == "10%"
    assert c.get_number("maxmemory-clients") == -10
    assert c.set("hz", "9999") == "500"
    assert c.set("hz", "0") == "1"
    assert c.set("loglevel", "WARNING") == "warning"
    assert c.set("oom-score-adj", "relative") == "yes"
    assert c.set("shutdown-on-sigint", "now save") == "save now"
    assert c.set("notify-keyspace-events", "KEA$") == "AKE"
    assert c.set("slave-read-only", "no") == "no"
    assert c.get("replica-read-only") == "no"
    with pytest.raises(ConfigError, match="argument must be 'yes' or 'no'"):
        c.set("appendonly", "maybe")
    with pytest.raises(ConfigError, match="between 1 and 2147483647 inclusive"):
        c.set("databases", "0")
    with pytest.raises(ConfigError, match="Unknown option"):
        c.set("nosuch", "1")


def test_set_many_is_atomic_and_rolls_hooks_back():
    c = Config()
    applied = []
    c.add_hook("maxmemory-samples", lambda v: applied.append(("samples", v)))

    def refuse(v):
        if v == "7":
            raise ConfigError("no sevens")
        applied.append(("factor", v))

    c.add_hook("lfu-log-factor", refuse)
    with pytest.raises(ConfigError) as e:
        c.set_many([("maxmemory-samples", "9"), ("lfu-log-factor", "7")])
    assert str(e.value) == (
        "CONFIG SET failed (possibly related to argument 'lfu-log-factor') - no sevens"
    )
    assert c.get("maxmemory-samples") == "5" and c.get("lfu-log-factor") == "10"
    # applied, refused, then both restored with the old values
    assert applied == [("samples", "9"), ("samples", "5"), ("factor", "10")]
    applied.clear()
    with pytest.raises(ConfigError, match="argument 'hz'"):
        c.set_many([("maxmemory-samples", "9"), ("hz", "x")])
    assert applied == [] and c.get("maxmemory-samples") == "5"
    assert c.set_many([("maxmemory-samples", "9"), ("lfu-log-factor", "8")]) == [
        "maxmemory-samples",
        "lfu-log-factor",
    ]
    assert applied == [("samples", "9"), ("factor", "8")]


def test_set_many_checks_before_changing_anything():
    c = Config()
    for pairs, text in (
        ([("hz", "5"), ("daemonize", "yes")], "can't set immutable config"),
        ([("hz", "5"), ("dir", "/")], "can't set protected config"),
        ([("hz", "5"), ("HZ", "6")], "duplicate parameter"),
        (
            [("hz", "5"), ("Nope", "6")],
            "Unknown option or number of arguments for CONFIG SET - 'Nope'",
        ),
    ):
        with pytest.raises(ConfigError, match=text):
            c.set_many(pairs)
        assert c.get("hz") == "10"
    # an alias and its primary name are distinct entries (Redis allows both at once)
    c.set_many([("hash-max-ziplist-entries", "1"), ("hash-max-listpack-entries", "2")])
    assert c.get("hash-max-ziplist-entries") == "2"


def test_validators_run_after_the_builtin_check():
    c = Config()
    seen = []
    c.validators["maxmemory"] = lambda v: seen.append(v) or v
    c.set("maxmemory", "1kb")
    assert seen == ["1024"]
    with pytest.raises(ConfigError):
        c.set("maxmemory", "abc")
    assert seen == ["1024"]


# ------------------------------------------------------------ config files
def test_config_file_directives(tmp_path):
    inc = tmp_path / "inc.conf"
    inc.write_text("maxmemory-samples 9\n")
    text = (
        """
# a comment
   port 7001
save 900 1
save 300 10
bind "127.0.0.1 ::1"
slave-read-only no
include %s
rename-command FLUSHALL ""
user alice on >pw ~* +@all
list-max-ziplist-entries 10
notify-keyspace-events "KEx"
client-output-buffer-limit pubsub 1mb 1kb 5
"""
        % inc
    )
    c = Config()
    c.load_text(text)
    assert c.get("port") == "7001"
    assert c.get("save") == "900 1 300 10"
    assert c.get("bind") == "127.0.0.1 ::1"
    assert c.get("replica-read-only") == "no"
    assert c.get("maxmemory-samples") == "9"
    assert c.extra["rename-command"] == [["FLUSHALL", ""]]
    assert c.extra["user"] == [["alice", "on", ">pw", "~*", "+@all"]]
    assert c.get("notify-keyspace-events") == "xKE"
    assert (
        c.get("client-output-buffer-limit")
        == "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 1024 5"
    )


def test_config_file_save_empty_then_more():
    c = Config()
    c.load_text('save ""\nsave 10 1\n')
    assert c.get("save") == "10 1"
    c = Config()
    c.load_text('save 10 1\nsave ""\n')
    assert c.get("save") == ""


@pytest.mark.parametrize(
    "text,lineno,line,msg",
    [
        ("port 1\nfoo bar\n", 2, "foo bar", "Bad directive or wrong number of arguments"),
        ("\n\nport 1 2\n", 3, "port 1 2", "wrong number of arguments"),
        ('maxmemory "1\n', 1, 'maxmemory "1', "Unbalanced quotes in configuration line"),
        ("hz abc", 1, "hz abc", "argument couldn't be parsed into an integer"),
        ("save 1", 1, "save 1", "Invalid save parameters"),
        (
            "loglevel loud",
            1,
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
        (
            "sentinel monitor x",
            1,
            "sentinel monitor x",
            "sentinel directive while not in sentinel mode",
        ),
        ("mymodule.opt", 1, "mymodule.opt", "Module config specified without value"),
    ],
)
def test_config_file_errors(text, lineno, line, msg):
    with pytest.raises(ConfigError) as e:
        Config().load_text(text)
    assert (e.value.lineno, e.value.line, e.value.msg) == (lineno, line, msg)


def test_command_line_becomes_config_text():
    path, stdin, opts = cfgmod.argv_to_config_text(
        ["/etc/r.conf", "--port", "7000", "--save", "--bind", "a b", "--loglevel", "debug"]
    )
    assert path == "/etc/r.conf" and not stdin
    assert opts == 'port "7000" \nsave ""\nbind "a b" \nloglevel "debug" '
    assert cfgmod.argv_to_config_text(["--save"])[2] == 'save ""'
    assert cfgmod.argv_to_config_text(["-"])[1] is True
    c = cfgmod.config_from_argv(["--port", "7000", "--bind", "127.0.0.1 ::1", "--save", ""])
    assert (c.get("port"), c.get("bind"), c.get("save")) == ("7000", "127.0.0.1 ::1", "")


def test_rewrite_keeps_comments_and_updates_in_place(tmp_path):
    path = tmp_path / "r.conf"
    path.write_text(
        "# top comment\nmaxmemory 1mb\nsave 900 1\nsave 300 10\n\n\n"
        "# end\nslave-read-only yes\nrename-command FLUSHALL \"\"\n"
    )
    c = Config()
    c.config_file = str(path)
    c.load_text(path.read_text())
    c.set("maxmemory", "2mb")
    c.set("save", "")
    c.set("notify-keyspace-events", "KEA")
    c.set("hash-max-ziplist-entries", "100")
    c.rewrite()
    text = path.read_text()
    head, _, tail = text.partition("# Generated by CONFIG REWRITE\n")
    assert head == (
        "# top comment\nmaxmemory 2mb\nsave \"\"\n\n# end\nreplica-read-only yes\n"
        "rename-command FLUSHALL \"\"\n\n"
    )
    lines = tail.splitlines()
    assert 'notify-keyspace-events "AKE"' in lines
    assert "hash-max-listpack-entries 100" in lines
    assert "latency-tracking-info-percentiles 50 99 99.9" in lines
    assert "user default on nopass ~* &* +@all" in lines
    assert 'dir "%s"' % os.getcwd() in lines
    # Like Redis, the file's last newline becomes one blank line on the next rewrite;
    # after that, rewrites with nothing changed are stable.
    c.rewrite()
    assert path.read_text() == text + "\n"
    c.rewrite()
    assert path.read_text() == text + "\n"


def test_rewrite_marks_unknown_lines(tmp_path):
    path = tmp_path / "r.conf"
    path.write_text("port 6380\nnot-a-directive 1\n")
    c = Config()
    c.config_file = str(path)
    c.values["port"] = "6380"
    c.rewrite()
    assert path.read_text().splitlines()[:2] == ["port 6380", "# ??? not-a-directive 1"]


# ---------------------------------------------------------- on a live server
@pytest.fixture
def srv():
    s = start_server(enable_debug_command="yes", enable_protected_configs="yes")
    yield s
    s.stop()


@pytest.fixture
def rc(srv):
    c = redis.Redis(port=srv.port)
    yield c
    c.close()


def test_config_set_reaches_the_server(srv, rc):
    server = srv.server
    rc.config_set("hz", "50")
    assert server.hz == 50
    rc.config_set("maxclients", "321")
    assert server.maxclients == 321
    rc.config_set("slowlog-log-slower-than", "-1")
    assert server.slowlog_threshold_ns > 10**15
    rc.config_set("latency-monitor-threshold", "7")
    assert server.latency_threshold_ns == 7000000
    rc.config_set("notify-keyspace-events", "Kg")
    assert server.notify_flags == (1 << 0) | (1 << 2)
    rc.config_set("notify-keyspace-events", "")
    assert server.notify_flags == 0


def test_config_set_maxclients_beyond_the_fd_limit(srv, rc):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    with pytest.raises(redis.ResponseError, match="try with %d" % (hard - 32)):
        rc.config_set("maxclients", str(hard * 2))
    assert rc.config_get("maxclients") == {"maxclients": "10000"}
    assert srv.server.maxclients == 10000


def test_config_set_tls_is_refused(rc):
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        rc.config_set("tls-port", "6443")
    assert rc.config_get("tls-port") == {"tls-port": "0"}


def test_config_set_dir(rc, tmp_path):
    start = rc.config_get("dir")["dir"]
    assert os.path.isabs(start) and os.path.isdir(start)
    assert rc.config_set("dir", str(tmp_path))
    assert rc.config_get("dir") == {"dir": str(tmp_path)}
    assert os.getcwd() != str(tmp_path)  # an embedded server leaves the process's cwd alone
    with pytest.raises(redis.ResponseError, match="No such file or directory"):
        rc.config_set("dir", str(tmp_path / "nope"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(redis.ResponseError, match="Not a directory"):
        rc.config_set("dir", str(tmp_path / "f"))
    assert rc.config_get("dir") == {"dir": str(tmp_path)}


def test_config_rewrite_on_an_embedded_server(srv, rc, tmp_path):
    with pytest.raises(redis.ResponseError, match="running without a config file"):
        rc.config_rewrite()
    path = tmp_path / "embedded.conf"
    path.write_text("# mine\nmaxmemory-samples 5\n")
    srv.server.config.config_file = str(path)
    rc.config_set("maxmemory-samples", "7")
    assert rc.config_rewrite()
    assert path.read_text().startswith("# mine\nmaxmemory-samples 7\n")
    srv.server.config.config_file = str(tmp_path / "nodir" / "x.conf")
    with pytest.raises(redis.ResponseError, match="Rewriting config file: No such file"):
        rc.config_rewrite()


def test_config_resetstat_clears_stats(rc):
    rc.set("a", "b")
    with pytest.raises(redis.ResponseError):
        rc.execute_command("NOSUCH")
    assert rc.info("stats")["total_error_replies"] >= 1
    assert rc.config_resetstat()
    stats = rc.info("stats")
    assert stats["total_error_replies"] == 0
    assert stats["total_connections_received"] == 0
    assert rc.info("errorstats") == {}
    assert list(rc.info("commandstats")) == ["cmdstat_config|resetstat", "cmdstat_info"]


def test_config_get_hidden_parameters_only_by_name(rc):
    assert rc.config_get("rdb-key-save-delay") == {"rdb-key-save-delay": "0"}
    assert rc.config_get("rdb-key-save*") == {}
    rc.config_set("key-load-delay", "-5")
    assert rc.config_get("key-load-delay") == {"key-load-delay": "-5"}


def test_config_set_port_and_bind_move_the_listeners(srv, rc):
    from support import RawConn, free_port

    old, new = srv.port, free_port()
    assert rc.config_set("port", str(new))
    assert RawConn("127.0.0.1", new).call("PING") == b"+PONG\r\n"
    assert rc.ping()  # connected clients stay
    with pytest.raises(OSError):
        RawConn("127.0.0.1", old, timeout=2).call("PING")
    assert rc.info("server")["tcp_port"] == new
    with pytest.raises(redis.ResponseError, match="Failed to bind to specified addresses"):
        rc.config_set("bind", "192.0.2.123")  # an address this host does not have
    assert rc.config_get("bind") == {"bind": "127.0.0.1"}
    assert RawConn("127.0.0.1", new).call("PING") == b"+PONG\r\n"
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    with pytest.raises(redis.ResponseError, match="Unable to listen on this port"):
        rc.config_set("port", str(busy.getsockname()[1]))
    busy.close()
    assert rc.config_get("port") == {"port": str(new)}
    assert RawConn("127.0.0.1", new).call("PING") == b"+PONG\r\n"


def test_force_all_rewrite_reads_back_the_same_values(tmp_path):
    """DEBUG CONFIG-REWRITE-FORCE-ALL writes every parameter; reading that file back
    gives every value again (Redis's "CONFIG REWRITE sanity")."""
    path = tmp_path / "all.conf"
    path.write_text("")
    c = Config()
    c.config_file = str(path)
    for name, value in (
        ("maxmemory", "3gb"),
        ("save", "10 1 20 2"),
        ("bind", "127.0.0.1 ::1"),
        ("notify-keyspace-events", "Ex"),
        ("unixsocketperm", "700"),
        ("maxmemory-clients", "5%"),
        ("shutdown-on-sigterm", "nosave now"),
        ("replica-announce-ip", "10.0.0.1"),
        ("latency-tracking-info-percentiles", "12.5 99"),
        ("client-output-buffer-limit", "normal 1mb 2kb 3"),
        ("proc-title-template", "{title} {port}"),
        ("requirepass", "p w"),
    ):
        c.values[name] = c.normalise(name, value)
    c.rewrite(force_all=True)
    back = Config()
    back.load_text(path.read_text())
    for name in cfgmod.PARAMS:
        assert back.values[name] == c.values[name], name


def test_config_set_refused_while_loading(srv):
    from support import RawConn

    c = RawConn("127.0.0.1", srv.port)
    srv.server.loading = 1
    try:
        assert (
            c.call("CONFIG", "SET", "appendonly", "yes")
            == b"-LOADING Redis is loading the dataset in memory\r\n"
        )
        assert c.call("CONFIG", "SET", "loglevel", "debug") == b"+OK\r\n"
    finally:
        srv.server.loading = 0
        c.close()
