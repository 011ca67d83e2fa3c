"""The embedding API and the pytest plugin, used the way their docs say."""

import asyncio
import os
import tempfile

import pytest
import redis

import vermilion
from vermilion.embed import serve


def test_start_server_context_manager():
    with vermilion.start_server() as srv:
        r = redis.Redis(host=srv.host, port=srv.port)
        assert r.set("k", "v") is True
        assert r.get("k") == b"v"
        assert srv.url == "redis://127.0.0.1:%d/0" % srv.port
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=srv.port, socket_connect_timeout=1).ping()


def test_stop_after_the_server_shut_itself_down():
    """SHUTDOWN from a client closes the server's loop; stop() must not fail if it
    comes while the thread is still finishing (the loop closed, the thread alive)."""
    srv = vermilion.start_server()
    thread = srv.thread
    r = redis.Redis(host=srv.host, port=srv.port)
    try:
        r.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # (redis-py says nothing for the closed connection, or raises: both fine)
    thread.join(10)
    assert srv.loop.is_closed()

    class _StillFinishing:  # (the moment between loop.close() and the thread's end)
        def is_alive(self):
            return True

        def join(self, timeout=None):
            thread.join(timeout)

    srv.thread = _StillFinishing()
    srv.stop()


def test_two_servers_are_independent():
    with vermilion.start_server() as a, vermilion.start_server() as b:
        ra, rb = redis.Redis(port=a.port), redis.Redis(port=b.port)
        ra.set("x", 1)
        assert rb.get("x") is None
        assert a.port != b.port


def test_unix_socket():
    path = os.path.join(tempfile.mkdtemp(), "v.sock")
    with vermilion.start_server(unixsocket=path, port=None) as srv:
        r = redis.Redis(unix_socket_path=path)
        assert r.ping() is True
        assert srv.unixsocket == path


def test_serve_on_running_loop():
    async def main():
        srv = await serve(port=0)
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        await srv.aclose()
        return line

    assert asyncio.run(main()) == b"+PONG\r\n"


def test_pytest_fixture(vermilion_client):
    assert vermilion_client.incr("n") == 1


@pytest.mark.vermilion_config(databases=2)
def test_pytest_fixture_config(vermilion_client):
    assert vermilion_client.config_get("databases") == {"databases": "2"}


def test_a_socket_it_cannot_open_raises_oserror_saying_why(tmp_path):
    # the server logs Redis's line (compared in test_cli.py); embedded, the caller
    # gets it as an OSError
    path = str(tmp_path / "no-such-dir" / "s.sock")
    with pytest.raises(OSError, match="Failed opening Unix socket: bind: No such file"):
        vermilion.start_server(port=0, unixsocket=path)

    async def main():
        with pytest.raises(OSError, match="Failed opening Unix socket: bind: No such file"):
            await serve(port=0, unixsocket=path)

    asyncio.run(main())
