"""GEO commands against redis-server 7.0, byte for byte (geo.c, geohash*.c).

Search replies are compared byte for byte, order included: sorting by
distance (ties too), the order of an unsorted reply (box by box, in score
order), 4-decimal distances and 17-digit coordinates.
"""

import random

import pytest

from keyspace_helpers import config_set, events  # noqa: F401 (fixture)

NYC = """
    GEOADD nyc -73.9454966 40.747533 "lic market"
    GEOADD nyc -73.9733487 40.7648057 "central park n/q/r"
    GEOADD nyc -73.9903085 40.7362513 "union square"
    GEOADD nyc -74.0131604 40.7126674 "wtc one"
    GEOADD nyc -73.7858139 40.6428986 "jfk"
    GEOADD nyc -73.9375699 40.7498929 "q4"
    GEOADD nyc -73.9564142 40.7480973 4545
"""


@pytest.fixture
def nyc(diff):
    diff.run(NYC)
    return diff


# ------------------------------------------------------------------- GEOADD
def test_geoadd(diff):
    diff.run("""
        GEOADD k 13.361389 38.115556 Palermo
        GEOADD k 13.361389 38.115556 Palermo
        GEOADD k 13.361389 39.115556 Palermo
        GEOADD k CH 13.361389 39.115556 Palermo 15.087269 37.502669 Catania
        GEOADD k CH 13.5 39 Palermo 15.087269 37.502669 Catania
        GEOADD k NX 1 1 Palermo 2 2 New
        GEOADD k XX 1 1 Palermo 3 3 Newer
        GEOADD k CH NX 4 4 Palermo 5 5 Other
        GEOADD k CH XX 4 4 Palermo 5 5 Other2
        GEOADD k xx ch 6 6 Palermo
        GEOADD k nx xx 1 1 a
        GEOADD k XX NX 1 1 a
        GEOADD k ch
        GEOADD k ch ch ch
        GEOADD k NX 1 2
        GEOADD k GT 1 2 a
        GEOADD k INCR 1 2 a
        GEOADD k 1 2
        GEOADD k 1 2 a 3
        ZRANGE k 0 -1 WITHSCORES
        OBJECT ENCODING k
        GEOADD new XX 1 1 a
        EXISTS new
    """)


def test_geoadd_coordinates(diff):
    diff.run("""
        GEOADD k 180 85.05112878 max
        GEOADD k -180 -85.05112878 min
        GEOADD k 0 0 zero
        GEOADD k -0 -0 negzero
        GEOADD k 179.99999999 85.0511287 almost
        GEOADD k 1e-300 -1e-300 tiny
        GEOADD k 0x1p-3 0x10 hex
        ZRANGE k 0 -1 WITHSCORES
        GEOPOS k max min zero negzero almost tiny hex
        GEOHASH k max min zero negzero almost tiny hex
        GEOADD k 180.000001 0 bad
        GEOADD k -180.000001 0 bad
        GEOADD k 0 85.05112879 bad
        GEOADD k 0 -85.05112879 bad
        GEOADD k 1 100 bad
        GEOADD k inf 0 bad
        GEOADD k 0 -inf bad
        GEOADD k nan 0 bad
        GEOADD k abc 0 bad
        GEOADD k 0 abc bad
        GEOADD k "" 0 bad
        GEOADD k 1 1 ok 0 100 bad
        EXISTS bad
        ZCARD k
        GEOADD k 123456789 1 bad
    """)


def test_geoadd_wrong_type_and_arity(diff):
    diff.run("""
        SET s x
        GEOADD s 1 1 a
        GEOADD s 1 100 a
        GEOADD s nx xx 1 1 a
        GEOADD
        GEOADD k
        GEOADD k 1 1
    """)


def test_geoadd_many_members(diff):
    rnd = random.Random(1)
    args = []
    for i in range(400):
        args += ["%.6f" % rnd.uniform(-180, 180), "%.6f" % rnd.uniform(-85, 85), "m%d" % i]
    diff("GEOADD", "k", *args)
    diff("OBJECT", "ENCODING", "k")
    diff("ZRANGE", "k", 0, -1, "WITHSCORES")


# -------------------------------------------------------- GEOPOS / GEOHASH
def test_geopos_geohash(nyc):
    nyc.run("""
        GEOPOS nyc "wtc one" jfk missing 4545
        GEOHASH nyc "wtc one" jfk missing 4545
        GEOPOS missing a b
        GEOHASH missing a b
        GEOPOS nyc
        GEOHASH nyc
        ZADD nyc 0 z -1 neg 4503599627370496 big 9007199254740992 bigger 1e300 huge 0.5 frac
        ZADD nyc -inf ninf +inf pinf
        GEOPOS nyc z neg big bigger huge frac ninf pinf
        GEOHASH nyc z neg big bigger huge frac ninf pinf
        SET s x
        GEOPOS s a
        GEOHASH s a
    """)


def test_geopos_geohash_resp3(diff3):
    diff3.run(
        NYC
        + """
        GEOPOS nyc "wtc one" missing
        GEOHASH nyc "wtc one" missing
        GEOPOS missing a
        GEODIST nyc "wtc one" jfk
        GEODIST nyc "wtc one" missing
        GEODIST missing a b
    """
    )


def test_geopos_random_points(diff):
    rnd = random.Random(2)
    args = []
    for i in range(300):
        args += [
            repr(rnd.uniform(-180, 180)),
            repr(rnd.uniform(-85.05112878, 85.05112878)),
            "p%d" % i,
        ]
    diff("GEOADD", "k", *args)
    members = ["p%d" % i for i in range(300)]
    diff("GEOPOS", "k", *members)
    diff("GEOHASH", "k", *members)


# ------------------------------------------------------------------ GEODIST
def test_geodist(nyc):
    nyc.run("""
        GEODIST nyc "wtc one" jfk
        GEODIST nyc "wtc one" jfk m
        GEODIST nyc "wtc one" jfk KM
        GEODIST nyc "wtc one" jfk mi
        GEODIST nyc "wtc one" jfk Ft
        GEODIST nyc "wtc one" "wtc one"
        GEODIST nyc "wtc one" jfk yards
        GEODIST nyc "wtc one" jfk km extra
        GEODIST nyc "wtc one" missing
        GEODIST nyc missing "wtc one"
        GEODIST missing a b
        GEODIST missing a b km
        GEODIST missing a b furlongs
        GEODIST missing a b km extra
        GEOADD pts -180 0 a 180 0 b 0 85.05112878 n 0 -85.05112878 s 0 0 o 180 0.000001 c
        GEODIST pts a b
        GEODIST pts n s
        GEODIST pts o b km
        GEODIST pts a c
        SET s x
        GEODIST s a b
        GEODIST s a b km extra
        GEODIST
        GEODIST k a
    """)
    nyc("GEODIST", "nyc", "wtc one", "jfk", "km\0junk")


def test_geodist_random(diff):
    rnd = random.Random(3)
    args = []
    for i in range(200):
        args += [repr(rnd.uniform(-180, 180)), repr(rnd.uniform(-85, 85)), "p%d" % i]
    diff("GEOADD", "k", *args)
    for _ in range(300):
        a, b = rnd.randrange(200), rnd.randrange(200)
        diff("GEODIST", "k", "p%d" % a, "p%d" % b, rnd.choice(["m", "km", "mi", "ft"]))


# --------------------------------------------------------- radius searches
def test_georadius_basic(nyc):
    nyc.run("""
        GEORADIUS nyc -73.9798091 40.7598464 3 km
        GEORADIUS nyc -73.9798091 40.7598464 3 km ASC
        GEORADIUS nyc -73.9798091 40.7598464 3 km DESC
        GEORADIUS nyc -73.9798091 40.7598464 3 km WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 3 km WITHDIST ASC
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 3
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 2 DESC
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 3 ANY
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 3 ANY ASC
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 3 ANY DESC
        GEORADIUS nyc -73.9798091 40.7598464 10 km ANY
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 0
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT -1
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT abc
        GEORADIUS nyc -73.9798091 40.7598464 10 km COUNT 100
        GEORADIUS nyc -73.9798091 40.7598464 10 km WITHCOORD WITHHASH WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 10 km withhash withcoord desc count 4
        GEORADIUS nyc -73.9798091 40.7598464 10 mi WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 10000 ft WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 10000 m WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 0 km
        GEORADIUS nyc -74.0131604 40.7126674 0 km WITHDIST
        GEORADIUS nyc 0 0 1 km
        GEORADIUS nyc -73.9798091 40.7598464 50000 km WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 inf km WITHDIST
        GEORADIUS nyc -73.9798091 40.7598464 1e300 km
        GEORADIUS_RO nyc -73.9798091 40.7598464 3 km WITHDIST
        GEORADIUS_RO nyc -73.9798091 40.7598464 3 km STORE x
        GEORADIUS_RO nyc -73.9798091 40.7598464 3 km STOREDIST x
    """)


def test_georadius_errors(nyc):
    nyc.run("""
        GEORADIUS nyc 1 100 10 km
        GEORADIUS nyc abc 1 10 km
        GEORADIUS nyc 1 1 abc km
        GEORADIUS nyc 1 1 -1 km
        GEORADIUS nyc 1 1 10 parsecs
        GEORADIUS nyc 1 1 10 km FOO
        GEORADIUS nyc 1 1 10 km WITHDIST STORE
        GEORADIUS nyc 1 1 10 km STORE x WITHDIST
        GEORADIUS nyc 1 1 10 km STOREDIST x WITHCOORD
        GEORADIUS nyc 1 1 10 km STORE x WITHHASH
        GEORADIUS nyc 1 1 10 km ANY
        GEORADIUS nyc 1 1 10 km FROMLONLAT 1 1
        GEORADIUS nyc 1 1 10 km BYRADIUS 1 km
        GEORADIUS nyc 1 1 10 km STOREDIST
        GEORADIUS nyc 1 1 10
        GEORADIUS missing 1 100 10 km
        GEORADIUS missing 1 1 -1 km
        GEORADIUS missing 1 1 10 km FOO
        GEORADIUS missing 1 1 10 km
        GEORADIUS missing 1 1 10 km STORE dst
        GEORADIUS missing 1 1 10 km ANY
        GEORADIUS missing 1 1 10 km STORE dst WITHDIST
        SET s x
        GEORADIUS s 1 100 10 km
        GEORADIUSBYMEMBER s a 10 km
        GEOSEARCH s FROMMEMBER a BYRADIUS 1 km
        GEOSEARCHSTORE d s FROMMEMBER a BYRADIUS 1 km
        GEOSEARCHSTORE s nyc FROMMEMBER jfk BYRADIUS 1 km
        GET s
    """)


def test_georadiusbymember(nyc):
    nyc.run("""
        GEORADIUSBYMEMBER nyc "wtc one" 7 km
        GEORADIUSBYMEMBER nyc "wtc one" 7 km WITHDIST
        GEORADIUSBYMEMBER nyc "wtc one" 7 km WITHDIST WITHCOORD WITHHASH COUNT 3 DESC
        GEORADIUSBYMEMBER nyc "wtc one" 7 km COUNT 2 ANY
        GEORADIUSBYMEMBER nyc missing 7 km
        GEORADIUSBYMEMBER nyc missing abc km
        GEORADIUSBYMEMBER nyc "wtc one" abc km
        GEORADIUSBYMEMBER nyc "wtc one" -7 km
        GEORADIUSBYMEMBER nyc "wtc one" 7 au
        GEORADIUSBYMEMBER nyc "wtc one" 7 km BAD
        GEORADIUSBYMEMBER missing a abc au
        GEORADIUSBYMEMBER missing a abc au STORE d
        GEORADIUSBYMEMBER missing a abc au BAD
        GEORADIUSBYMEMBER missing a abc au WITHDIST STORE d
        GEORADIUSBYMEMBER_RO nyc "wtc one" 7 km WITHDIST
        GEORADIUSBYMEMBER_RO nyc "wtc one" 7 km STORE d
    """)


def test_georadius_store(nyc):
    nyc.run("""
        GEORADIUS nyc -73.9798091 40.7598464 10 km STORE d
        ZRANGE d 0 -1 WITHSCORES
        OBJECT ENCODING d
        GEORADIUS nyc -73.9798091 40.7598464 10 km STOREDIST d2
        ZRANGE d2 0 -1 WITHSCORES
        GEORADIUS nyc -73.9798091 40.7598464 10 km STOREDIST d2 COUNT 2 DESC
        ZRANGE d2 0 -1 WITHSCORES
        GEORADIUS nyc -73.9798091 40.7598464 10 km STORE d3 STOREDIST d4
        EXISTS d3
        ZRANGE d4 0 -1 WITHSCORES
        GEORADIUS nyc 0 0 1 km STORE d
        EXISTS d
        GEORADIUS nyc 0 0 1 km STORE d
        GEORADIUSBYMEMBER nyc "wtc one" 5 km STORE bm
        ZRANGE bm 0 -1 WITHSCORES
        GEORADIUSBYMEMBER nyc "wtc one" 5 mi STOREDIST bm
        ZRANGE bm 0 -1 WITHSCORES
        SET str x
        EXPIRE str 100
        GEORADIUS nyc -73.9798091 40.7598464 10 km STORE str
        TYPE str
        TTL str
        GEORADIUS missing 1 1 10 km STORE bm
        EXISTS bm
    """)


def test_store_encoding_limits(nyc, shared_vermilion):
    config_set(nyc, shared_vermilion, "zset-max-listpack-entries", "3")
    try:
        nyc.run("""
            GEORADIUS nyc -73.9798091 40.7598464 10 km STORE d
            OBJECT ENCODING d
            GEORADIUS nyc -73.9798091 40.7598464 10 km STORE d COUNT 3
            OBJECT ENCODING d
            GEOSEARCHSTORE d nyc FROMLONLAT -73.9798091 40.7598464 BYRADIUS 10 km STOREDIST
            OBJECT ENCODING d
        """)
    finally:
        config_set(nyc, shared_vermilion, "zset-max-listpack-entries", "128")


# -------------------------------------------------------------- GEOSEARCH
def test_geosearch(nyc):
    nyc.run("""
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYRADIUS 3 km
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYRADIUS 3 km ASC
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 6 6 km ASC
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 6 6 km WITHDIST WITHCOORD WITHHASH
        GEOSEARCH nyc FROMMEMBER "wtc one" BYBOX 14 14 km
        GEOSEARCH nyc FROMMEMBER "wtc one" BYRADIUS 7 km WITHDIST DESC
        GEOSEARCH nyc FROMMEMBER "wtc one" BYRADIUS 7 km COUNT 2 ANY
        GEOSEARCH nyc FROMMEMBER "wtc one" BYRADIUS 70 km COUNT 2
        GEOSEARCH nyc FROMMEMBER jfk FROMMEMBER "wtc one" BYRADIUS 7 km
        GEOSEARCH nyc FROMLONLAT 0 0 FROMLONLAT -73.9798091 40.7598464 BYRADIUS 7 km
        GEOSEARCH nyc FROMLONLAT 0 0 BYRADIUS 1 m BYRADIUS 7 km
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 1 1 m BYBOX 6 6 km
        GEOSEARCH nyc BYRADIUS 7 km FROMMEMBER "wtc one"
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 0 0 km
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 100000 100 km ASC
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 100 100000 km ASC
        GEOSEARCH nyc FROMLONLAT -73.9798091 40.7598464 BYBOX inf inf km
    """)


def test_geosearch_errors(nyc):
    nyc.run("""
        GEOSEARCH nyc FROMLONLAT 1 1 FROMMEMBER jfk BYRADIUS 1 km
        GEOSEARCH nyc FROMMEMBER jfk FROMLONLAT 1 1 BYRADIUS 1 km
        GEOSEARCH nyc BYRADIUS 1 km BYBOX 1 1 km FROMMEMBER jfk
        GEOSEARCH nyc BYBOX 1 1 km BYRADIUS 1 km FROMMEMBER jfk
        GEOSEARCH nyc BYRADIUS 1 km WITHDIST COUNT 1
        GEOSEARCH nyc FROMMEMBER jfk WITHDIST COUNT 1
        geosearch nyc FROMMEMBER jfk WITHDIST COUNT 1
        GeoSearch nyc BYRADIUS 1 km WITHDIST
        GEOSEARCH nyc FROMMEMBER missing BYRADIUS 1 km
        GEOSEARCH nyc FROMMEMBER missing BYRADIUS 1 km FOO
        GEOSEARCH nyc FROMLONLAT 1 100 BYRADIUS 1 km
        GEOSEARCH nyc FROMLONLAT a 1 BYRADIUS 1 km
        GEOSEARCH nyc FROMLONLAT 1 1 BYRADIUS x km
        GEOSEARCH nyc FROMLONLAT 1 1 BYRADIUS -1 km
        GEOSEARCH nyc FROMLONLAT 1 1 BYRADIUS 1 yd
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX x 1 km
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX 1 x km
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX x x km
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX -1 1 km
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX 1 -1 km
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX 1 1 yd
        GEOSEARCH nyc FROMLONLAT 1 1 BYBOX 1 1
        GEOSEARCH nyc FROMLONLAT 1 1 BYRADIUS 1
        GEOSEARCH nyc FROMLONLAT 1 BYRADIUS 1 km
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 1 km STORE d
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 1 km STOREDIST
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 1 km STOREDIST d
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 1 km ANY
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 1 km COUNT 0
        GEOSEARCH missing FROMMEMBER a BYRADIUS 1 km
        GEOSEARCH missing FROMMEMBER a BYRADIUS x km
        GEOSEARCH missing FROMLONLAT 1 100 BYRADIUS 1 km
        GEOSEARCH missing FROMMEMBER a FROMLONLAT 1 1 BYRADIUS 1 km
        GEOSEARCH missing FROMMEMBER a
        GEOSEARCH missing BYRADIUS 1 km
        GEOSEARCH
        GEOSEARCH nyc FROMMEMBER jfk
    """)
    nyc("GEOSEARCH", "nyc", "FROMMEMBER\0x", "jfk", "BYRADIUS", "100", "km", "ASC\0y")


def test_geosearchstore(nyc):
    nyc.run("""
        GEOSEARCHSTORE d nyc FROMLONLAT -73.9798091 40.7598464 BYRADIUS 10 km
        ZRANGE d 0 -1 WITHSCORES
        GEOSEARCHSTORE d nyc FROMLONLAT -73.9798091 40.7598464 BYBOX 10 10 km STOREDIST
        ZRANGE d 0 -1 WITHSCORES
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 30 km COUNT 2 DESC STOREDIST
        ZRANGE d 0 -1 WITHSCORES
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 1 km
        ZRANGE d 0 -1 WITHSCORES
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 0 km
        EXISTS d
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 0 km
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 1 km WITHDIST
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 1 km WITHCOORD
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 1 km STORE x
        GEOSEARCHSTORE d nyc FROMMEMBER jfk
        GEOSEARCHSTORE d missing FROMMEMBER jfk BYRADIUS 1 km
        GEOSEARCHSTORE d missing FROMMEMBER jfk BYRADIUS 1 km WITHDIST
        GEOSEARCHSTORE nyc nyc FROMMEMBER jfk BYRADIUS 100 km STOREDIST
        ZRANGE nyc 0 -1 WITHSCORES
        GEOSEARCHSTORE d nyc FROMMEMBER jfk BYRADIUS 100 km
        GEOSEARCHSTORE
    """)


# ------------------------------------------------- Redis test-suite cases
def test_redis_suite_cases(diff):
    diff.run("""
        GEOADD users -47.271613776683807 -54.534504198047678 user_000000
        GEORADIUS users 0 0 50000 km WITHCOORD
        GEOADD k1 -0.15307903289794921875 85 n1 0.3515625 85.00019260486917005437 n2
        GEORADIUSBYMEMBER k1 n1 4891.94 m
        ZREM k1 n1 n2
        GEOADD k1 -4.95211958885192871094 85 n3 11.25 85.0511 n4
        GEORADIUSBYMEMBER k1 n3 156544 m
        ZREM k1 n3 n4
        GEOADD k1 -45 65.50900022111811438208 n5 90 85.0511 n6
        GEORADIUSBYMEMBER k1 n5 5009431 m
        DEL k1
        GEOADD k1 45 65 n1 -135 85.05 n2
        GEORADIUSBYMEMBER k1 n1 5009431 m
        GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 eage2
        GEORADIUS Sicily 15 37 200 km asc
        GEOSEARCH Sicily fromlonlat 15 37 bybox 400 400 km asc
        DEL Sicily
        GEOADD Sicily 12.75 36.995 test1
        GEOADD Sicily 12.75 36.50 test2
        GEOADD Sicily 13.00 36.50 test3
        GEOSEARCH Sicily fromlonlat 15 37 bybox 400 2 km
        GEOADD Sicily -1 37.00 test3
        GEOSEARCH Sicily fromlonlat 15 37 bybox 3000 2 km asc
        DEL Sicily
        GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2 17.250000 35.202000 edge3 12.750000 35.202000 edge4 12.748489955781654 37 edge5 15 38.798135872540925 edge6 17.251510044218346 37 edge7 15 35.201864127459075 edge8 12.692799634687903 38.798135872540925 corner1 12.692799634687903 38.798135872540925 corner2 17.200560937451133 35.201864127459075 corner3 12.799439062548865 35.201864127459075 corner4
        GEOSEARCH Sicily fromlonlat 15 37 bybox 400 400 km asc
        GEOSEARCH Sicily fromlonlat 15 37 bybox 400 400 km
        GEOADD points 179.5 36 point1
        GEOADD points -179.5 36 point2
        GEOSEARCH points fromlonlat 179 37 bybox 400 400 km asc
        GEOSEARCH points fromlonlat -179 37 bybox 400 400 km asc
        DEL points
        GEOADD points -122.407107 37.794300 1
        GEOADD points -122.227336 37.794300 2
        GEORADIUS points -122.407107 37.794300 30 mi ASC WITHDIST
    """)


# --------------------------------------------------------- sorting & ties
def test_ties_in_distance(diff):
    """Members at the same place: the order of ties is the sort algorithm's."""
    args = []
    for i in range(60):
        args += ["2.35", "48.85", "same%02d" % i]
    for i in range(60):
        args += ["2.36", "48.86", "other%02d" % i]
    diff("GEOADD", "k", *args)
    for count in (1, 2, 5, 7, 8, 20, 41, 59, 60, 61, 100, 119, 120, 500):
        diff("GEORADIUS", "k", "2.35", "48.85", "10", "km", "COUNT", count)
        diff("GEORADIUS", "k", "2.35", "48.85", "10", "km", "COUNT", count, "DESC")
        diff(
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "2.355",
            "48.855",
            "BYBOX",
            "5",
            "5",
            "km",
            "COUNT",
            count,
            "WITHDIST",
        )
        diff(
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "2.355",
            "48.855",
            "BYBOX",
            "5",
            "5",
            "km",
            "COUNT",
            count,
            "ANY",
            "DESC",
        )
    diff("GEORADIUS", "k", "2.35", "48.85", "10", "km", "ASC")
    diff("GEORADIUS", "k", "2.35", "48.85", "10", "km", "DESC")


def test_partial_sort_random(diff):
    """COUNT with fewer results than matches goes through pqsort."""
    rnd = random.Random(5)
    args = []
    for i in range(500):
        # a coarse grid: many equal distances
        args += [
            "%.2f" % (10 + rnd.randrange(20) / 100),
            "%.2f" % (45 + rnd.randrange(20) / 100),
            "m%d" % i,
        ]
    diff("GEOADD", "k", *args)
    for _ in range(60):
        count = rnd.randrange(1, 520)
        order = rnd.choice(["ASC", "DESC"])
        diff("GEORADIUS", "k", "10.1", "45.1", "50", "km", "COUNT", count, order, "WITHDIST")
        diff(
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            "10.05",
            "45.05",
            "BYBOX",
            "30",
            "20",
            "km",
            "COUNT",
            count,
            order,
        )


# --------------------------------------------------------------- fuzzing
def _random_set(diff, rnd, n, key="k"):
    args = []
    for i in range(n):
        args += [repr(rnd.uniform(-180, 180)), repr(rnd.uniform(-85, 85)), "p%d" % i]
    for i in range(0, len(args), 300):
        diff("GEOADD", key, *args[i : i + 300])


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_searches(diff, seed):
    rnd = random.Random(100 + seed)
    _random_set(diff, rnd, 2000)
    for _ in range(40):
        lon = repr(rnd.uniform(-180, 180))
        lat = repr(rnd.uniform(-85, 85))
        unit = rnd.choice(["m", "km", "mi", "ft"])
        scale = {"m": 1000, "km": 1, "mi": 0.62, "ft": 3280}[unit]
        r = repr(rnd.choice([1, 10, 100, 500, 1000, 3000, 8000, 20000]) * scale * rnd.random())
        w = repr(rnd.choice([10, 200, 1000, 5000, 20000]) * scale * rnd.random())
        h = repr(rnd.choice([10, 200, 1000, 5000, 20000]) * scale * rnd.random())
        opts = rnd.sample(["WITHDIST", "WITHCOORD", "WITHHASH", "ASC", "DESC"], rnd.randrange(0, 4))
        if rnd.random() < 0.4:
            opts += ["COUNT", str(rnd.randrange(1, 50))]
            if rnd.random() < 0.3:
                opts.append("ANY")
        diff("GEORADIUS", "k", lon, lat, r, unit, *opts)
        diff("GEOSEARCH", "k", "FROMLONLAT", lon, lat, "BYBOX", w, h, unit, *opts)
        member = "p%d" % rnd.randrange(2000)
        diff("GEOSEARCH", "k", "FROMMEMBER", member, "BYRADIUS", r, unit, *opts)
        diff(
            "GEOSEARCHSTORE",
            "dst",
            "k",
            "FROMMEMBER",
            member,
            "BYBOX",
            w,
            h,
            unit,
            *[o for o in opts if not o.startswith("WITH")],
            "STOREDIST",
        )
        diff("ZRANGE", "dst", 0, -1, "WITHSCORES")


def test_fuzz_near_poles_and_antimeridian(diff):
    rnd = random.Random(7)
    args = []
    for i in range(800):
        lon = rnd.choice([rnd.uniform(-180, -175), rnd.uniform(175, 180), rnd.uniform(-180, 180)])
        lat = rnd.choice([rnd.uniform(80, 85.05), rnd.uniform(-85.05, -80), rnd.uniform(-85, 85)])
        args += [repr(lon), repr(lat), "q%d" % i]
    diff("GEOADD", "k", *args)
    for _ in range(60):
        lon = repr(rnd.choice([rnd.uniform(-180, -178), rnd.uniform(178, 180), -180, 180]))
        lat = repr(
            rnd.choice(
                [
                    rnd.uniform(78, 85.05112878),
                    rnd.uniform(-85.05112878, -78),
                    85.05112878,
                    -85.05112878,
                    0,
                ]
            )
        )
        r = repr(rnd.choice([1, 50, 500, 2000, 10000, 25000]) * rnd.random())
        diff("GEORADIUS", "k", lon, lat, r, "km", "WITHDIST", "ASC")
        diff(
            "GEOSEARCH",
            "k",
            "FROMLONLAT",
            lon,
            lat,
            "BYBOX",
            r,
            repr(float(r) / 3),
            "km",
            "WITHCOORD",
        )


def test_antipodes(diff):
    """Distances across the globe (asin near 1) and the biggest searches."""
    diff.run("""
        GEOADD k 0 0 a 180 0 b -180 0 c 90 0 d -90 0 e 0.000001 0 f 179.999999 0 g
        GEOADD k 45 45 h -135 -45 i 10 20 j -170 -20 l
        GEODIST k a b
        GEODIST k a c
        GEODIST k h i
        GEODIST k j l
        GEODIST k f g
        GEORADIUS k 0 0 20037.5 km WITHDIST ASC
        GEORADIUS k 0 0 20015 km WITHDIST DESC
        GEORADIUS k 0 0 50000 km WITHDIST
        GEOSEARCH k FROMLONLAT 0 0 BYBOX 40075 40075 km WITHDIST ASC
        GEOSEARCH k FROMMEMBER h BYRADIUS 20015.08 km WITHDIST ASC
    """)


# ------------------------------------------------------------ zset interplay
def test_non_geo_scores(diff):
    """Members added with ZADD: any score decodes to something."""
    diff.run("""
        ZADD k 0 a 1 b 4503599627370495 c 4503599627370496 d 3.5 e -10 f 1e20 g
        GEOPOS k a b c d e f g
        GEOHASH k a b c d e f g
        GEODIST k a c
        GEODIST k f g km
        GEORADIUS k 0 0 50000 km WITHDIST WITHHASH WITHCOORD
        GEORADIUS k -180 -85 100 km WITHDIST WITHHASH
        GEOSEARCH k FROMMEMBER f BYRADIUS 1000 km WITHHASH
        GEOSEARCH k FROMMEMBER g BYBOX 1000 1000 km
    """)


def test_skiplist_encoding(diff, shared_vermilion):
    """The same searches on a big (skiplist) geo set."""
    rnd = random.Random(9)
    _random_set(diff, rnd, 300, "big")
    diff("OBJECT", "ENCODING", "big")
    for _ in range(20):
        lon = repr(rnd.uniform(-180, 180))
        lat = repr(rnd.uniform(-80, 80))
        diff("GEORADIUS", "big", lon, lat, "3000", "km", "WITHDIST")
        diff("GEORADIUS", "big", lon, lat, "3000", "km", "COUNT", "5")


# ------------------------------------------------------------- side effects
def test_keyspace_events(diff, events):
    diff.run("""
        GEOADD k 1 1 a 2 2 b
        GEOADD k 1 1 a
        GEOADD k XX 3 3 a
        GEORADIUS k 1 1 500 km STORE d
        GEORADIUS k 1 1 500 km STOREDIST d
        GEOSEARCHSTORE d2 k FROMMEMBER a BYRADIUS 500 km
        GEOSEARCHSTORE d2 k FROMLONLAT 50 50 BYRADIUS 1 km
        GEORADIUS k 50 50 1 km STORE d
        GEORADIUS missing 50 50 1 km STORE d2
    """)
    assert events.collect()


def test_geo_inside_multi(diff):
    diff.run("""
        MULTI
        GEOADD k 1 1 a 2 2 b
        GEOADD k 1 100 c
        GEODIST k a b
        GEORADIUS k 1 1 500 km WITHDIST
        GEOSEARCHSTORE d k FROMMEMBER a BYRADIUS 500 km
        EXEC
    """)


def test_resp3_searches(diff3):
    diff3.run(
        NYC
        + """
        GEORADIUS nyc -73.9798091 40.7598464 10 km WITHCOORD WITHHASH WITHDIST
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 30 km WITHCOORD
        GEOSEARCH nyc FROMMEMBER jfk BYRADIUS 30 km
        GEORADIUS nyc 0 0 1 km
        GEORADIUS nyc 0 0 1 km STORE x
    """
    )


def test_propagation(real_redis):
    """GEOADD reaches the AOF as the ZADD it became; searches with STORE as typed."""
    from .test_hyperloglog import aof_of_both

    theirs, ours = aof_of_both(
        [
            ("GEOADD", "g", "13.361389", "38.115556", "Palermo"),
            ("GEOADD", "g", "13.361389", "38.115556", "Palermo"),
            ("GEOADD", "g", "ch", "13.5", "38.1", "Palermo", "15.087269", "37.502669", "Catania"),
            ("GEOADD", "g", "XX", "NX", "1", "1", "x"),
            ("GEOADD", "g", "1", "100", "x"),
            ("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "s1"),
            ("GEORADIUS", "g", "15", "37", "200", "km", "WITHDIST"),
            ("GEOSEARCHSTORE", "s2", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "500", "km"),
            ("GEOSEARCHSTORE", "s2", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
            ("GEOSEARCHSTORE", "s2", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
        ]
    )
    assert ours == theirs


def test_pqsort_sorts_the_requested_prefix():
    """pqsort's contract, on its own: the first k are the k smallest, in order."""
    from vermilion.commands import geo

    rnd = random.Random(3)
    for _ in range(500):
        n = rnd.randrange(1, 300)
        items = [[float(rnd.randrange(20)), i] for i in range(n)]
        k = rnd.randrange(1, n + 1)
        got = [x[:] for x in items]
        geo.pqsort(got, 0, k - 1, geo._cmp_desc)
        assert [x[0] for x in got[:k]] == sorted((x[0] for x in items), reverse=True)[:k]
        assert sorted(x[1] for x in got) == list(range(n))
