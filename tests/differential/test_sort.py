"""SORT and SORT_RO, byte for byte against redis-server 7.0 (sort.c)."""

import pathlib
import importlib.util

# helpers shared with the sorted-set tests (config on both servers, pub/sub drain)
_spec = importlib.util.spec_from_file_location(
    "zset_diff_helpers", pathlib.Path(__file__).with_name("test_zsets.py")
)
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)


def test_sort_list_numeric(diff):
    diff.run("""
        RPUSH l 3 1 2 10 -5 2.5 1e2 0x10
        SORT l
        SORT l DESC
        SORT l LIMIT 1 3
        SORT l LIMIT 1 3 DESC
        SORT l LIMIT -5 2
        SORT l LIMIT 2 -1
        SORT l LIMIT 100 2
        SORT l LIMIT 0 0
        SORT l ALPHA
        SORT l ALPHA DESC
        SORT_RO l
        SORT_RO l DESC LIMIT 0 2
        RPUSH bad 1 a 2
        SORT bad
        SORT bad ALPHA
        RPUSH ws " 1" "" "2 "
        SORT ws
        RPUSH ties 1 01 1.0 +1 " 1"
        SORT ties
        SORT ties DESC
        RPUSH big 1 1e400
        SORT big
    """)
    # (after an ERANGE Redis's errno stays set until the next failing syscall, so
    # later numeric SORTs in the same connection would fail there: keep it last)


def test_sort_set_and_zset(diff):
    diff.run("""
        SADD s 5 3 9 1
        SORT s
        SORT s DESC LIMIT 1 2
        SADD t banana apple cherry
        SORT t ALPHA
        SORT t ALPHA DESC
        SORT t
        ZADD z 1 c 2 a 3 b
        SORT z ALPHA
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 1
        SORT z BY nosort DESC LIMIT 1 5
        SORT z BY nosort LIMIT 5 5
        OBJECT ENCODING z
        ZADD zn 3 x 1 y
        SORT zn
    """)


def test_sort_nosort_list(diff):
    diff.run("""
        RPUSH l c a b d
        SORT l BY nosort
        SORT l BY nosort DESC
        SORT l BY nosort LIMIT 1 2
        SORT l BY nosort DESC LIMIT 1 2
        SORT l BY nosort LIMIT 3 10
        SORT l BY nosort LIMIT 10 10
        SORT l BY nosort DESC LIMIT 0 0
        SORT l BY constant GET #
    """)


def test_sort_by_and_get(diff):
    diff.run("""
        RPUSH l 1 2 3 4
        MSET w_1 40 w_2 10 w_3 30 o_1 one o_2 two o_3 three
        SORT l BY w_*
        SORT l BY w_* DESC
        SORT l BY w_* GET o_*
        SORT l BY w_* GET o_* GET #
        SORT l BY w_* GET # GET o_* LIMIT 1 2
        SORT l GET nostar
        SORT l BY w_* ALPHA
        SORT l BY o_* ALPHA
        SORT l BY o_* ALPHA DESC
        SORT l BY o_*
        HSET h_1 f 3 g x
        HSET h_2 f 1
        HSET h_3 f 2 g y
        SORT l BY h_*->f
        SORT l BY h_*->f GET h_*->g GET #
        SORT l BY h_*->f DESC GET h_*->nofield
        SORT l BY h_*-> GET h_*->
        SORT l BY w_*->f
        SORT l GET w_*->f
        SORT l BY nokey_*
        SORT l BY nokey_* ALPHA
        LPUSH w_4 notastring
        SORT l BY w_*
        SORT l GET w_*
    """)


def test_sort_store(diff):
    diff.run("""
        RPUSH l 3 1 2
        SORT l STORE dst
        LRANGE dst 0 -1
        TYPE dst
        SORT l DESC STORE dst
        LRANGE dst 0 -1
        MSET o_1 one o_3 three
        SORT l GET o_* GET # STORE dst
        LRANGE dst 0 -1
        SET dst x
        SORT l LIMIT 0 0 STORE dst
        EXISTS dst
        SORT nokey STORE dst2
        SET dst2 x
        SORT nokey STORE dst2
        EXISTS dst2
        SADD s c a b
        SORT s BY nosort STORE dst3
        LRANGE dst3 0 -1
        SORT_RO l STORE dst
        RPUSH bad a b
        SORT bad STORE dst4
        EXISTS dst4
    """)


def test_sort_errors(diff):
    diff.run("""
        RPUSH l 1 2
        SET str x
        HSET h a 1
        SORT str
        SORT h
        SORT l FOO
        SORT l LIMIT
        SORT l LIMIT 1
        SORT l LIMIT a 1
        SORT l LIMIT 1 b
        SORT l BY
        SORT l GET
        SORT l STORE
        SORT str FOO
        SORT nokey
        SORT nokey ALPHA DESC LIMIT 0 10
        SORT_RO l STORE x
        SORT_RO str
    """)


def test_sort_resp3(diff3):
    diff3.run("""
        RPUSH l 2 1 3
        SET o_1 one
        SORT l GET o_* GET #
        SORT l
    """)


def test_sort_keyspace_events(diff, shared_vermilion):
    want, got = _helpers.keyspace_events(
        diff,
        shared_vermilion,
        ["dst"],
        """
        RPUSH l 3 1 2
        SORT l STORE dst
        SORT l LIMIT 0 0 STORE dst
        SORT l LIMIT 0 0 STORE dst
    """,
    )
    assert len(want) >= 2
    assert got == want


def test_sort_more(diff):
    diff.run("""
        SADD s 30 10 20
        SORT s BY nosort
        SORT s BY nosort DESC LIMIT 1 1
        RPUSH l c a b
        MSET w_a 3 w_b 1 w_c 2
        SORT l BY w_* LIMIT 0 2
        SORT l BY w_* DESC LIMIT 1 5
        SORT l BY w_* ALPHA LIMIT 0 1
        HSET h_a f x
        SORT l BY h_*->f ALPHA
        SORT l BY h_*->f ALPHA DESC
        ZADD z 1 b 2 c 3 a
        SORT z BY w_*
        SORT z BY w_* GET h_*->f GET #
        SORT z DESC ALPHA LIMIT 0 2 STORE out
        LRANGE out 0 -1
        RPUSH nums 3 1.5 -2 1e2 inf -inf
        SORT nums
        SORT nums DESC
        RPUSH n2 nan 1
        SORT n2
    """)
