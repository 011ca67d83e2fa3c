"""The pytest plugin (issue #15, item 1): each test gets a fresh, empty server,
the clients work, and the plugin keeps pytest from rewriting the server. Each
case runs a real pytest in a subprocess on a test file written here."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_pytest(tmp_path, source, *args, conftest=None):
    (tmp_path / "test_it.py").write_text(textwrap.dedent(source))
    if conftest is not None:
        (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    # ROOT on the path: this checkout's vermilion, and its egg-info (the plugin's
    # entry point and the file list pytest marks for rewriting) as installed
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::pytest.PytestAssertRewriteWarning",
            *args,
            "test_it.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def passed(out, n):
    assert out.returncode == 0, out.stdout + out.stderr
    assert "%d passed" % n in out.stdout


def test_each_test_sees_a_fresh_server(tmp_path):
    out = run_pytest(
        tmp_path,
        """
        import socket, threading, time
        import redis

        SEEN = {}

        def test_dirty(vermilion_client, vermilion_server):
            r = vermilion_client
            SEEN["port"] = vermilion_server.port
            r.set("k", "v"); r.execute_command("SELECT", 1); r.set("k1", "v")
            sha = r.script_load("return 1")
            SEEN["sha"] = sha
            r.function_load("#!lua name=lib\\nredis.register_function('f', function() return 1 end)")
            r.config_set("maxmemory", "10mb")
            r.config_set("notify-keyspace-events", "KEA")
            r.config_set("slowlog-log-slower-than", "0")
            r.acl_setuser("alice", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all"])
            other = redis.Redis(port=vermilion_server.port)
            other.client_setname("leftover")
            sub = other.pubsub(); sub.subscribe("ch")
            sub.get_message(timeout=1)
            assert r.pubsub_numsub("ch") == [(b"ch", 1)]
            SEEN["other"] = (other, sub)    # still connected when the test ends

        def test_clean(vermilion_client, vermilion_server):
            r = vermilion_client
            # CONFIG RESETSTAT: only redis-py's CLIENT SETINFO pair came before
            assert r.info("stats")["total_commands_processed"] <= 3
            assert vermilion_server.port == SEEN["port"]      # the same server...
            assert r.dbsize() == 0                             # ...empty
            r.execute_command("SELECT", 1)
            assert r.dbsize() == 0
            assert r.script_exists(SEEN["sha"]) == [False]
            assert r.function_list() == []
            assert r.config_get("maxmemory") == {"maxmemory": "0"}
            assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
            assert r.slowlog_len() == 0
            assert r.acl_users() == ["default"]
            assert r.acl_list() == ["user default on nopass ~* &* +@all"]
            assert r.pubsub_numsub("ch") == [(b"ch", 0)]
            clients = r.client_list()
            assert len(clients) == 1, clients                 # its own connection only
    """,
    )
    passed(out, 2)


def test_a_test_that_locks_out_the_default_user_or_stops_the_server(tmp_path):
    out = run_pytest(
        tmp_path,
        """
        def test_lock_out(vermilion_client):
            vermilion_client.acl_setuser("default", enabled=False)

        def test_after_lock_out(vermilion_client):
            assert vermilion_client.ping()
            assert vermilion_client.acl_list() == ["user default on nopass ~* &* +@all"]

        def test_stop(vermilion_server):
            vermilion_server.stop()

        def test_after_stop(vermilion_client):
            assert vermilion_client.set("k", "v")
    """,
    )
    passed(out, 4)


def test_marker_config(tmp_path):
    out = run_pytest(
        tmp_path,
        """
        import pytest

        @pytest.mark.vermilion_config(requirepass="s3cret", maxmemory_policy="allkeys-lru")
        def test_mutable(vermilion_client, vermilion_server):
            assert vermilion_client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
            import redis
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=vermilion_server.port).ping()

        def test_undone(vermilion_client):
            assert vermilion_client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
            assert vermilion_client.config_get("requirepass") == {"requirepass": ""}

        @pytest.mark.vermilion_config(databases=2)
        def test_immutable_gets_its_own(vermilion_client):
            assert vermilion_client.config_get("databases") == {"databases": "2"}

        @pytest.mark.vermilion_config(maxmemory="lots")
        def test_refused(vermilion_server):
            pass
    """,
    )
    assert out.returncode != 0
    assert "3 passed" in out.stdout and "1 error" in out.stdout, out.stdout
    assert "maxmemory" in out.stdout


def test_async_client(tmp_path):
    out = run_pytest(
        tmp_path,
        """
        import asyncio

        def test_async(vermilion_async_client):
            async def main():
                await vermilion_async_client.set("k", "v")
                return await vermilion_async_client.get("k")
            assert asyncio.run(main()) == b"v"

        def test_async_again(vermilion_async_client):
            async def main():
                return await vermilion_async_client.dbsize()
            assert asyncio.run(main()) == 0
    """,
        "-W",
        "error::ResourceWarning",
    )
    passed(out, 2)


def test_missing_redis_py_says_what_to_install(tmp_path):
    out = run_pytest(
        tmp_path,
        """
        def test_needs_client(vermilion_client):
            pass
    """,
        conftest="import sys\nsys.modules['redis'] = None\n",
    )
    assert out.returncode != 0
    assert 'pip install "vermilion[client]"' in out.stdout


def test_only_the_plugin_module_is_rewritten(tmp_path):
    out = run_pytest(
        tmp_path,
        """
        import sys
        from _pytest.assertion.rewrite import AssertionRewritingHook

        def test_loaders(vermilion_server):
            rewritten = sorted(k for k, m in sys.modules.items() if k.startswith("vermilion")
                               and isinstance(getattr(m, "__loader__", None), AssertionRewritingHook))
            # the package's __init__ and version module load with the plugin, before
            # it can narrow pytest's mark; nothing of the server after that
            assert set(rewritten) <= {"vermilion", "vermilion.version", "vermilion.pytest_plugin"}
            assert "vermilion.embed" in sys.modules
    """,
    )
    passed(out, 1)


def test_plugin_import_loads_no_server():
    code = (
        "import sys, pytest, vermilion.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('vermilion')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert out.stdout.strip() == "['vermilion', 'vermilion.pytest_plugin', 'vermilion.version']"


@pytest.mark.parametrize("shared", [True])
def test_repo_fixture_still_works(vermilion_client, shared):
    assert vermilion_client.incr("n") == 1
