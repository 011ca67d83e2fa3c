"""ACL on a real Vermilion: what a byte comparison with redis-server cannot see.

Server-side state (which clients take the dispatcher's slow path), randomness
(GENPASS), the clock (ACL LOG grouping and ages), redaction in SLOWLOG, the
ACL SAVE failure path, and the command universe read from spec.json. Replies are
compared with redis-server in tests/differential/test_acl.py.
"""

import hashlib
import os
import threading
import time

import pytest
import redis

from support import RawConn
from vermilion import acl as aclmod
from vermilion.core import table
from vermilion.embed import start_server


def on_loop(srv, fn, *args):
    """Run fn(*args) on the server's event loop thread; return its result."""
    done = threading.Event()
    box = []

    def call():
        try:
            box.append(fn(*args))
        finally:
            done.set()

    srv.loop.call_soon_threadsafe(call)
    assert done.wait(5)
    return box[0] if box else None


def client_state(srv, cid):
    def get():
        c = srv.server.clients[cid]
        return c.user, c.acl is not None, c.special, c.authenticated

    return on_loop(srv, get)


@pytest.fixture
def srv():
    s = start_server()
    yield s
    s.stop()


def conn(srv, **kw):
    return redis.Redis(host=srv.host, port=srv.port, single_connection_client=True, **kw)


# ------------------------------------------------------------------ fast path
def test_unrestricted_users_keep_the_fast_path(srv):
    admin = conn(srv)
    cid = admin.client_id()
    assert client_state(srv, cid) == ("default", False, False, True)
    admin.acl_setuser("u", enabled=True, passwords=["+pw"], keys=["k*"], commands=["+@all"])
    u = conn(srv)
    ucid = u.client_id()
    u.auth("pw", "u")
    assert client_state(srv, ucid) == ("u", True, True, True)
    with pytest.raises(redis.exceptions.NoPermissionError):
        u.get("x")
    admin.acl_setuser("u", keys=["*"], channels=["*"])  # now unrestricted
    assert client_state(srv, ucid) == ("u", False, False, True)
    assert u.get("x") is None
    admin.acl_setuser("u", commands=["-get"])  # restricted again
    assert client_state(srv, ucid)[1:3] == (True, True)
    u.execute_command("RESET")
    assert client_state(srv, ucid) == ("default", False, False, True)


def test_restricted_default_user_marks_new_clients(srv):
    admin = conn(srv)
    admin.acl_setuser("default", enabled=True, commands=["-flushall"])
    c = conn(srv)
    assert client_state(srv, c.client_id()) == ("default", True, True, True)
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.flushall()
    assert client_state(srv, admin.client_id())[1] is True  # existing clients too
    admin.acl_setuser("default", enabled=True, commands=["+flushall"])
    assert client_state(srv, c.client_id()) == ("default", False, False, True)
    assert on_loop(srv, lambda: srv.server.new_client_acl) is None


def test_connectionless_clients_are_not_checked(srv):
    """Like Redis's AOF client, a client without a connection runs as a superuser."""
    from vermilion.core.client import Client

    conn(srv).acl_setuser("default", enabled=True, commands=["-set"])
    fake = on_loop(srv, lambda: Client(srv.server))
    assert fake.acl is None


def test_acl_user_restricted_property():
    s = start_server()
    try:
        state = s.server.acl
        assert not state.default.restricted
        for rules, restricted in [
            ((b"on", b"~*", b"&*", b"+@all"), False),
            ((b"on", b"~*", b"&*", b"+@all", b"-get", b"+get"), False),
            ((b"on", b"~*", b"+@all"), True),
            ((b"on", b"&*", b"+@all"), True),
            ((b"on", b"~*", b"&*", b"+@all", b"-get"), True),
            ((b"(~* &* +@all)",), False),
        ]:
            assert on_loop(s, state.set_user, b"t", [b"reset", *rules]) is None
            assert state.get(b"t").restricted is restricted, rules
    finally:
        s.stop()


# ----------------------------------------------------------- command universe
def test_universe_is_every_redis_command():
    spec = table.spec()
    u = aclmod.universe()
    names = set()
    for name, data in spec.items():
        names.add(name)
        if isinstance(data["info"][9], list):
            names.update(sub[0] for sub in data["info"][9])
    assert {e.fullname for e in u.entries} == names
    for cmd in table.ALL_COMMANDS:  # bound commands carry their bit
        assert cmd.acl_bits == u.by_name[cmd.fullname.encode()].bit
    assert u.lookup(b"GET").fullname == "get"
    assert u.lookup(b"config|GET").fullname == "config|get"
    assert u.lookup(b"get|x") is None and u.lookup(b"config|get|x") is None
    assert u.lookup(b"geoadd") is not None  # known to Redis even if not bound


def test_acl_cat_matches_spec(srv):
    r = conn(srv)
    assert r.acl_cat() == list(aclmod.CATEGORIES)
    spec = table.spec()
    for cat in aclmod.CATEGORIES:
        want = set()
        for name, data in spec.items():
            entries = [data["info"]] + (
                data["info"][9] if isinstance(data["info"][9], list) else []
            )
            for info in entries:
                if "@" + cat in [a["+"] for a in info[6]["~"]]:
                    want.add(info[0])
        got = r.acl_cat(cat)
        assert len(got) == len(set(got)) and set(got) == want, cat


# ----------------------------------------------------------------- GENPASS
def test_genpass_is_random_hex_of_the_right_length(srv):
    r = conn(srv)
    a, b = r.acl_genpass(), r.acl_genpass()
    assert a != b and len(a) == 64 and int(a, 16) >= 0
    for bits, chars in [(1, 1), (4, 1), (5, 2), (128, 32), (4096, 1024)]:
        assert len(r.acl_genpass(bits)) == chars


# ------------------------------------------------------------------ passwords
def test_passwords_are_sha256_and_hash_rules_work(srv):
    r = conn(srv)
    digest = hashlib.sha256(b"s3cret").hexdigest()
    r.acl_setuser("p", enabled=True, passwords=["+s3cret"], commands=["+@all"], keys=["*"])
    assert r.acl_getuser("p")["passwords"] == [digest]
    r.acl_setuser(
        "h", enabled=True, hashed_passwords=["+" + digest], commands=["+ping", "+acl|whoami"]
    )
    c = conn(srv)
    assert c.auth("s3cret", "h") is True
    assert c.acl_whoami() == "h"
    with pytest.raises(redis.exceptions.AuthenticationError):
        c.auth("wrong", "h")


def test_setuser_arguments_are_redacted_in_slowlog(srv):
    r = conn(srv)
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    r.acl_setuser("x", passwords=["+topsecret"])
    entries = r.slowlog_get()
    setuser = [
        e for e in entries if b"SETUSER" in [a.upper() for a in e["command"].split(b" ")[:2]]
    ]
    assert setuser
    text = setuser[0]["command"]
    assert b"topsecret" not in text and b"(redacted)" in text


# --------------------------------------------------------------------- LOG
def test_acl_log_groups_similar_events_and_ages(srv):
    r = conn(srv)
    r.acl_setuser("u", enabled=True, passwords=["+pw"], commands=["+get"], keys=["k*"])
    u = conn(srv)
    u.auth("pw", "u")
    for _ in range(3):
        with pytest.raises(redis.exceptions.NoPermissionError):
            u.get("x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        u.set("k", "v")
    log = r.acl_log()
    assert [(e["reason"], e["object"], e["count"]) for e in log] == [
        ("command", "set", 1),
        ("key", "x", 3),
    ]
    assert log[0]["username"] == "u" and log[0]["context"] == "toplevel"
    assert "user=u" in str(log[0]["client-info"]) or log[0]["client-info"]["user"] == "u"
    time.sleep(0.25)
    age = r.acl_log()[0]["age-seconds"]
    assert 0.2 <= float(age) < 5
    with pytest.raises(redis.exceptions.NoPermissionError):
        u.get("x")  # bumps the old entry back to the top
    log = r.acl_log()
    assert (log[0]["object"], log[0]["count"]) == ("x", 4)
    assert float(log[0]["age-seconds"]) < 0.2


def test_acl_log_entries_past_a_minute_are_not_grouped(srv):
    r = conn(srv)
    r.acl_setuser("u", enabled=True, passwords=["+pw"], commands=["+get"])
    u = conn(srv)
    u.auth("pw", "u")
    with pytest.raises(redis.exceptions.NoPermissionError):
        u.set("a", "b")

    def age_entries():
        for e in srv.server.acl.log:
            e.ctime -= 61000

    on_loop(srv, age_entries)
    with pytest.raises(redis.exceptions.NoPermissionError):
        u.set("a", "b")
    assert [e["count"] for e in r.acl_log()] == [1, 1]


def test_acl_log_only_scans_the_ten_newest_entries(srv):
    r = conn(srv)
    r.acl_setuser("u", enabled=True, passwords=["+pw"], commands=["+get"])  # no keys
    u = conn(srv)
    u.auth("pw", "u")
    for key in ["k"] + ["a%d" % i for i in range(10)] + ["k"]:
        with pytest.raises(redis.exceptions.NoPermissionError):
            u.get(key)
    objs = [(e["object"], e["count"]) for e in r.acl_log(20)]
    assert len(objs) == 12 and objs[0] == ("k", 1) and objs[-1] == ("k", 1)


# --------------------------------------------------------------- ACL SAVE
def test_acl_save_failure_and_success(tmp_path):
    aclfile = tmp_path / "sub" / "users.acl"
    aclfile.parent.mkdir()
    aclfile.write_text("user default on nopass ~* &* +@all\n")
    s = start_server(aclfile=str(aclfile))
    try:
        r = conn(s)
        r.acl_setuser("z", enabled=True, passwords=["+pw"], commands=["+get"])
        assert r.acl_save()
        text = aclfile.read_text()
        assert text.splitlines()[1].startswith("user z on #") and text.endswith("\n")
        assert not [p for p in os.listdir(aclfile.parent) if ".tmp-" in p]
        os.unlink(aclfile)
        os.rmdir(aclfile.parent)
        with pytest.raises(redis.exceptions.ResponseError) as e:
            r.acl_save()
        assert str(e.value) == (
            "There was an error trying to save the ACLs. Please check "
            "the server logs for more information"
        )
    finally:
        s.stop()


# --------------------------------------------------------------- killing
def test_deluser_closes_other_connections_at_once(srv):
    r = conn(srv)
    r.acl_setuser("k", enabled=True, passwords=["+pw"], commands=["+@all"], keys=["*"])
    raw = RawConn(srv.host, srv.port)
    assert raw.call("AUTH", "k", "pw") == b"+OK\r\n"
    assert r.acl_deluser("k") == 1
    assert raw.is_closed(2.0)
    assert not [c for c in r.client_list() if c["user"] == "k"]


def test_client_list_shows_the_user(srv):
    r = conn(srv)
    r.acl_setuser("lister", enabled=True, nopass=True, commands=["+@all"], keys=["*"])
    c = conn(srv)
    c.auth("x", "lister")
    assert c.client_info()["user"] == "lister"
    assert sorted(x["user"] for x in r.client_list()) == ["default", "lister"]


def test_requirepass_round_trip_through_the_default_user(srv):
    r = conn(srv)
    r.config_set("requirepass", "pw")
    digest = hashlib.sha256(b"pw").hexdigest()
    assert r.acl_getuser("default")["passwords"] == [digest]
    assert "nopass" not in r.acl_getuser("default")["flags"]
    with pytest.raises(redis.exceptions.AuthenticationError):
        conn(srv).ping()
    assert conn(srv, password="pw").ping()
    r.config_set("requirepass", "")
    assert "nopass" in r.acl_getuser("default")["flags"]
    assert conn(srv).ping()


def test_spec_json_categories_are_known():
    cats = set()
    for data in table.spec().values():
        for info in [data["info"]] + (data["info"][9] if isinstance(data["info"][9], list) else []):
            cats.update(a["+"][1:] for a in info[6]["~"])
    assert cats == set(aclmod.CATEGORIES)


def test_aclfile_users_at_startup(tmp_path):
    f = tmp_path / "users.acl"
    f.write_text("user alice on nopass ~* +@all\nuser default off\n")
    s = start_server(aclfile=str(f))
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            conn(s).ping()
        assert conn(s, username="alice", password="x").ping()
    finally:
        s.stop()
    f.write_text("user alice on garbage\n")
    with pytest.raises(aclmod.AclConfigError) as e:
        start_server(aclfile=str(f))
    assert str(e.value).startswith("Aborting Redis startup because of ACL errors: ")
    assert "Syntax error" in str(e.value)
