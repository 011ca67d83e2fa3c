"""The embedding API's promises (issue #15, item 3): failed starts leave nothing
behind, refused options are named, both handles tell where they listen, stop is
quiet. Real servers, real sockets, real directories."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile

import pytest
import redis
import redis.asyncio

import vermilion
from vermilion.embed import ConfigError, serve


@pytest.fixture
def no_leak(monkeypatch):
    """Fails the test when a directory the embed module made in /tmp is still
    there afterwards. (The real mkdtemp, wrapped to note what it made: other
    processes share /tmp, so counting vermilion-* directories would race them.)"""
    made = []
    real = tempfile.mkdtemp

    def mkdtemp(*a, **k):
        made.append(real(*a, **k))
        return made[-1]

    monkeypatch.setattr("vermilion.embed.tempfile.mkdtemp", mkdtemp)
    yield made
    assert made, "the test never made a server directory"
    assert [d for d in made if os.path.exists(d)] == []


def _busy_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


@pytest.mark.parametrize(
    "kwargs, option",
    [
        ({"maxmemory": "lots"}, "maxmemory"),
        ({"appendonly": "maybe"}, "appendonly"),
        ({"maxmemory_policy": "sometimes"}, "maxmemory-policy"),
        ({"no_such_option": "1"}, "no-such-option"),
        ({"config": {"hz": "fast"}}, "hz"),
    ],
)
def test_refused_option_is_named_and_leaves_no_dir(no_leak, kwargs, option):
    with pytest.raises(ConfigError) as info:
        vermilion.start_server(**kwargs)
    assert str(info.value).startswith(option + "=")
    assert info.value.option == option


def test_refused_option_on_serve_leaves_no_dir(no_leak):
    async def main():
        with pytest.raises(ConfigError, match="^maxmemory='lots': argument must be a memory value"):
            await serve(maxmemory="lots")

    asyncio.run(main())


def test_port_in_use_leaves_no_dir(no_leak):
    s = _busy_port()
    try:
        with pytest.raises(OSError):
            vermilion.start_server(port=s.getsockname()[1])
    finally:
        s.close()


def test_bad_unixsocket_closes_tcp_listener_and_dir(no_leak, tmp_path):
    # the TCP listener opens first; the unix socket's directory does not exist
    port = _free_port()
    with pytest.raises(OSError):
        vermilion.start_server(port=port, unixsocket=str(tmp_path / "missing" / "v.sock"))
    # the port is free again: a server can take it
    with vermilion.start_server(port=port) as srv:
        assert redis.Redis(port=srv.port).ping()


def test_bad_unixsocket_on_serve_closes_tcp_listener_and_dir(no_leak, tmp_path):
    port = _free_port()

    async def main():
        with pytest.raises(OSError):
            await serve(port=port, unixsocket=str(tmp_path / "missing" / "v.sock"))
        async with await serve(port=port) as srv:
            assert srv.port == port

    asyncio.run(main())


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_stopped_server_removes_its_dir(no_leak):
    with vermilion.start_server() as srv:
        d = srv.server.config.get("dir")
        redis.Redis(port=srv.port).save()
        assert os.path.exists(os.path.join(d, "dump.rdb"))
    assert not os.path.exists(d)


def test_given_dir_is_kept(tmp_path):
    with vermilion.start_server(dir=str(tmp_path)) as srv:
        redis.Redis(port=srv.port).save()
    assert (tmp_path / "dump.rdb").exists()


def test_url_tcp_and_unix(tmp_path):
    with vermilion.start_server() as srv:
        assert srv.url == "redis://127.0.0.1:%d/0" % srv.port
        assert redis.Redis.from_url(srv.url).ping()
    path = str(tmp_path / "v.sock")
    with vermilion.start_server(port=None, unixsocket=path) as srv:
        assert srv.url == "unix://" + path
        assert redis.Redis.from_url(srv.url).ping()


def test_url_of_a_wildcard_bind_is_reachable():
    with vermilion.start_server(host="0.0.0.0") as srv:
        assert srv.host == "127.0.0.1"
        assert redis.Redis.from_url(srv.url).ping()


def test_async_handle_has_host_url_and_async_with(tmp_path):
    path = str(tmp_path / "a.sock")

    async def main():
        async with await serve() as srv:
            assert srv.host == "127.0.0.1"
            assert srv.url == "redis://127.0.0.1:%d/0" % srv.port
            r = redis.asyncio.Redis.from_url(srv.url)
            assert await r.set("k", "v")
            assert await r.get("k") == b"v"
            await r.aclose()
            d = srv.server.config.get("dir")
            port = srv.port
        assert not os.path.exists(d)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        async with await serve(port=None, unixsocket=path) as srv:
            assert srv.url == "unix://" + path
            r = redis.asyncio.Redis.from_url(srv.url)
            assert await r.ping()
            await r.aclose()

    asyncio.run(main())


def test_stop_is_quiet():
    code = (
        "import vermilion, redis\n"
        "srv = vermilion.start_server()\n"
        "redis.Redis(port=srv.port).ping()\n"
        "srv.stop()\n"
        "import asyncio, vermilion.embed as e\n"
        "async def main():\n"
        "    async with await e.serve():\n"
        "        pass\n"
        "asyncio.run(main())\n"
        "print('done')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "done\n"
    assert out.stderr == ""


def test_stop_still_logs_what_is_not_routine(capfd):
    # the filter drops Redis's two routine lines only, for that one shutdown
    srv = vermilion.start_server()
    srv.stop()
    srv.server.log_warning("after the stop")
    assert "after the stop" in capfd.readouterr().out
