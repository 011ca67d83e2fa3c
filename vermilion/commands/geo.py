"""GEO commands (geo.c): GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO],
GEORADIUSBYMEMBER[_RO], GEOSEARCH, GEOSEARCHSTORE.

A geo set is an ordinary sorted set (:class:`vermilion.types.zset.ZSet`) whose
scores are 52-bit geohashes (:mod:`vermilion.types.geohash`): GEOADD is ZADD
with the scores computed from the coordinates (and is propagated as that ZADD),
and every other sorted-set command works on geo sets.

A search (radius or box) follows Redis step by step, because its answer
depends on each step:

1. the centre (coordinates, or a member's decoded position) and the shape;
2. the geohash precision and the nine boxes to scan, in Redis's order
   (centre, N, S, E, W, NE, NW, SE, SW), skipping a box equal to the one just
   scanned;
3. each box is a score range ``[min, max)`` of the sorted set, read in
   (score, member) order; each point is decoded and kept if inside the shape
   (haversine distance for a radius, per-axis distances for a box); with
   ``COUNT n ANY`` the scan stops as soon as n points are kept;
4. sorting by distance uses the algorithms Redis's output depends on for ties:
   glibc's ``qsort`` (a stable merge sort) for a full sort, Redis's ``pqsort``
   (a partial Bentley-McIlroy quicksort) when COUNT keeps only the first n;
5. replies print distances with 4 decimals (``fixedpoint_d2string``) and
   coordinates with ``%.17Lf`` minus trailing zeros, as Redis does.
"""

import math
from operator import itemgetter

from ..errors import CommandError, SYNTAX
from ..keyspace.db import NOTIFY_ZSET, NOTIFY_GENERIC
from ..protocol.encoder import Raw, INTS, EMPTY_ARRAY
from ..types import geohash as gh
from ..types.zset import ZSet
from ..util import parse_float, parse_int
from .strings import cstr_lower
from ..core.table import command
from .zsets import _zadd_generic, read_zset
from ..util import LLONG_MIN as _LLONG_MIN

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
ERR_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
ERR_MEMBER = "ERR could not decode requested zset member"

_SORT_NONE, _SORT_ASC, _SORT_DESC = 0, 1, 2
_COORDS = 1  # search around coordinates (GEORADIUS)
_MEMBER = 2  # search around a member (GEORADIUSBYMEMBER)
_NOSTORE = 4  # the _RO variants: no STORE/STOREDIST
_SEARCH = 8  # GEOSEARCH syntax
_SEARCHSTORE = 16  # GEOSEARCHSTORE

_CIRCLE = 1
_BOX = 2

_TWO63 = 2.0**63


# ------------------------------------------------------------------ helpers
def _lonlat(argv, i):
    """extractLongLatOrReply: two doubles, checked against the geohash limits."""
    lon = parse_float(argv[i])
    lat = parse_float(argv[i + 1])
    if lon < gh.LONG_MIN or lon > gh.LONG_MAX or lat < gh.LAT_MIN or lat > gh.LAT_MAX:
        raise CommandError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(b):
    """extractUnitOrReply: metres per unit."""
    u = _UNITS.get(cstr_lower(b))
    if u is None:
        raise CommandError(ERR_UNIT)
    return u


def _radius(argv, i):
    """extractDistanceOrReply: (radius, metres per unit)."""
    r = parse_float(argv[i], "ERR need numeric radius")
    if r < 0:
        raise CommandError("ERR radius cannot be negative")
    return r, _unit(argv[i + 1])


def _box(argv, i):
    """extractBoxOrReply: (width, height, metres per unit)."""
    w = parse_float(argv[i], "ERR need numeric width")
    h = parse_float(argv[i + 1], "ERR need numeric height")
    if h < 0 or w < 0:
        raise CommandError("ERR height or width cannot be negative")
    return w, h, _unit(argv[i + 2])


def _member_pos(zs, member):
    """longLatFromMember: a member's decoded position, or the decode error."""
    score = zs.dict.get(member)
    if score is None:
        raise CommandError(ERR_MEMBER)
    return gh.decode_score(score)


def format_distance(d):
    """addReplyDoubleDistance's text: fixedpoint_d2string with 4 decimals."""
    if d == 0:
        return b"0.0000"
    x = d * 10000.0
    if x != x or not -_TWO63 <= x < _TWO63:
        v = _LLONG_MIN  # llrint out of range
    else:
        v = round(x)  # llrint: nearest, ties to even
    sign = b""
    if v < 0:
        sign = b"-"
        v = -v
    s = b"%05d" % v
    return sign + s[:-4] + b"." + s[-4:]


def format_coord(d):
    """addReplyHumanLongDouble's text for a double: %.17Lf without trailing zeros."""
    if d - d != 0.0:
        if d == d:
            return b"inf" if d > 0 else b"-inf"
        return b"nan"
    s = b"%.17f" % d
    s = s.rstrip(b"0")
    if s[-1:] == b".":
        s = s[:-1]
    if s == b"-0":
        s = b"0"
    return s


def _bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def _coord_reply(d, resp):
    s = format_coord(d)
    if resp == 2:
        return _bulk(s)
    return b",%s\r\n" % s


# ---------------------------------------------------------------- sorting
def _cmp_asc(a, b):
    """sort_gp_asc on distances (NaN compares as smaller, as in C)."""
    x = a[0]
    y = b[0]
    if x > y:
        return 1
    if x == y:
        return 0
    return -1


def _cmp_desc(a, b):
    return -_cmp_asc(a, b)


def _msort(items, cmp):
    """glibc's qsort (msort_with_tmp): a top-down stable merge sort."""
    n = len(items)
    if n <= 1:
        return items
    n1 = n // 2
    b1 = _msort(items[:n1], cmp)
    b2 = _msort(items[n1:], cmp)
    out = []
    i = j = 0
    n2 = n - n1
    while i < n1 and j < n2:
        if cmp(b1[i], b2[j]) <= 0:
            out.append(b1[i])
            i += 1
        else:
            out.append(b2[j])
            j += 1
    out.extend(b1[i:])
    out.extend(b2[j:])
    return out


def _full_sort(items, asc):
    if any(p[0] != p[0] for p in items):
        return _msort(items, _cmp_asc if asc else _cmp_desc)
    # Without NaN the comparator is a total order and every stable sort agrees.
    return sorted(items, key=itemgetter(0), reverse=not asc)


def _med3(a, i, j, k, cmp):
    if cmp(a[i], a[j]) < 0:
        if cmp(a[j], a[k]) < 0:
            return j
        return k if cmp(a[i], a[k]) < 0 else i
    if cmp(a[j], a[k]) > 0:
        return j
    return i if cmp(a[i], a[k]) < 0 else k


def _vecswap(a, i, j, n):
    for k in range(n):
        a[i + k], a[j + k] = a[j + k], a[i + k]


def pqsort(a, lrange, rrange, cmp):
    """Redis's pqsort (pqsort.c) on the list ``a``: sort only enough for positions
    ``lrange..rrange`` to hold what a full sort would put there; same swaps,
    same comparisons, so ties end up in the same order.

    The two partitions left by each step are disjoint, so the order in which
    they are sorted does not matter: an explicit stack replaces the recursion.
    """
    stack = [(0, len(a))]
    while stack:
        base, n = stack.pop()
        if n < 7:
            for pm in range(base + 1, base + n):
                pl = pm
                while pl > base and cmp(a[pl - 1], a[pl]) > 0:
                    a[pl], a[pl - 1] = a[pl - 1], a[pl]
                    pl -= 1
            continue
        pm = base + n // 2
        if n > 7:
            pl = base
            pn = base + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(a, pm - d, pm, pm + d, cmp)
                pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(a, pl, pm, pn, cmp)
        a[base], a[pm] = a[pm], a[base]
        pa = pb = base + 1
        pc = pd = base + n - 1
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[base])
                if r > 0:
                    break
                if r == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[base])
                if r < 0:
                    break
                if r == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        pn = base + n
        r = min(pa - base, pb - pa)
        _vecswap(a, base, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(a, pb, pn - r, r)
        r = pb - pa  # the elements below the pivot
        if r > 1 and not (rrange < base or lrange > base + r - 1):
            stack.append((base, r))
        r = pd - pc  # the elements above it
        if r > 1 and not (rrange < pn - r or lrange > pn - 1):
            stack.append((pn - r, r))


# ----------------------------------------------------------------- search
def _points_in_box(zs, lo, hi, shape, out, limit):
    """geoGetPointsInRange: the members with scores in [lo, hi) inside the shape,
    appended to ``out`` as [distance, score, member, lon, lat].

    The decoding and the haversine of :mod:`~vermilion.types.geohash` are
    inlined here (same operations, same order): this loop runs for every
    candidate of a search. Scores in a box range are below 2**53, and decoded
    coordinates are finite, so the plain libm calls cannot fail; only ``asin``
    is guarded (a rounding error may put its argument past 1: NaN in C).
    """
    first, stop = zs.score_span(float(lo), False, float(hi), True)
    if first >= stop:
        return
    kind, cx, cy, a, b = shape
    even = gh._EVEN16
    odd = gh._ODD16
    sin = math.sin
    cos = math.cos
    asin = math.asin
    sqrt = math.sqrt
    d_r = gh.D_R
    two_r = 2.0 * gh.EARTH_RADIUS_IN_METERS
    radius = gh.EARTH_RADIUS_IN_METERS
    lon_min = gh.LONG_MIN
    lon_scale = gh.LONG_SCALE
    lat_min = gh.LAT_MIN
    lat_scale = gh.LAT_SCALE
    lon_max = gh.LONG_MAX
    lat_max = gh.LAT_MAX
    cxr = cx * d_r
    cyr = cy * d_r
    cos_cy = cos(cyr)
    half_w = a / 2
    half_h = b / 2
    circle = kind == _CIRCLE
    chunk = 256 if limit else stop - first
    pos = first
    append = out.append
    while pos < stop:
        end = min(stop, pos + chunk)
        scores, members = zs.range(pos, end)
        for score, member in zip(scores, members):
            v = int(score)
            q0 = v & 0xFFFF
            q1 = (v >> 16) & 0xFFFF
            q2 = (v >> 32) & 0xFFFF
            q3 = v >> 48
            ilat = even[q0] | even[q1] << 8 | even[q2] << 16 | even[q3] << 24
            ilon = odd[q0] | odd[q1] << 8 | odd[q2] << 16 | odd[q3] << 24
            lon = (
                lon_min
                + (ilon * 1.0 / 67108864.0) * lon_scale
                + (lon_min + (((ilon + 1) & 0xFFFFFFFF) * 1.0 / 67108864.0) * lon_scale)
            ) / 2
            if lon > lon_max:
                lon = lon_max
            elif lon < lon_min:
                lon = lon_min
            lat = (
                lat_min
                + (ilat * 1.0 / 67108864.0) * lat_scale
                + (lat_min + (((ilat + 1) & 0xFFFFFFFF) * 1.0 / 67108864.0) * lat_scale)
            ) / 2
            if lat > lat_max:
                lat = lat_max
            elif lat < lat_min:
                lat = lat_min
            latr = lat * d_r
            if not circle:
                # geohashGetDistanceIfInRectangle: latitude, then longitude, then both.
                if radius * abs(cyr - latr) > half_h:
                    continue
                lonr = lon * d_r
                w = sin((cxr - lonr) / 2)
                if w == 0.0:
                    dx = 0.0
                else:
                    x = cos(latr) * cos(latr) * w * w
                    dx = two_r * (asin(sqrt(x)) if x <= 1.0 else math.nan)
                if dx > half_w:
                    continue
            # geohashGetDistance(cx, cy, lon, lat)
            w = sin((lon * d_r - cxr) / 2)
            if w == 0.0:
                d = radius * abs(latr - cyr)
            else:
                u = sin((latr - cyr) / 2)
                x = u * u + cos_cy * cos(latr) * w * w
                d = two_r * (asin(sqrt(x)) if x <= 1.0 else math.nan)
            if circle and d > a:
                continue
            append([d, score, member, lon, lat])
            if limit and len(out) >= limit:
                return
        pos = end


def _search(zs, cx, cy, kind, radius, width, height, conversion, limit):
    """geohashCalculateAreasByShapeWGS84 + membersOfAllNeighbors."""
    if kind == _CIRCLE:
        half_w = half_h = conversion * radius
        radius_m = radius * conversion
        shape = (_CIRCLE, cx, cy, radius * conversion, 0.0)
    else:
        half_w = conversion * (width / 2)
        half_h = conversion * (height / 2)
        radius_m = gh._sqrt((width / 2) * (width / 2) + (height / 2) * (height / 2)) * conversion
        shape = (_BOX, cx, cy, width * conversion, height * conversion)
    boxes = gh.search_areas(cx, cy, radius_m, half_w, half_h)
    out = []
    last = 0
    for i, box in enumerate(boxes):
        if box is None:
            continue
        if last and box == boxes[last]:
            continue  # huge radius: the same box twice in a row
        if out and limit and len(out) >= limit:
            break
        lo, hi = gh.box_scores(*box)
        _points_in_box(zs, lo, hi, shape, out, limit)
        last = i
    return out


def _georadius(c, argv, src_idx, flags):
    """georadiusGeneric: every GEORADIUS*/GEOSEARCH* variant."""
    zs = read_zset(c.db, argv[src_idx])
    n = len(argv)
    store_key = None
    storedist = False
    cx = cy = 0.0
    kind = 0
    radius = width = height = 0.0
    conversion = 0.0
    if flags & _COORDS:
        base = 6
        kind = _CIRCLE
        cx, cy = _lonlat(argv, 2)
        radius, conversion = _radius(argv, base - 2)
    elif flags & _MEMBER:
        base = 5
        if zs is not None:
            kind = _CIRCLE
            cx, cy = _member_pos(zs, argv[2])
            radius, conversion = _radius(argv, base - 2)
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            store_key = argv[1]
    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    sort = _SORT_NONE
    any_ = False
    count = 0
    search = flags & _SEARCH
    i = base
    while i < n:
        arg = cstr_lower(argv[i])
        left = n - i - 1  # arguments after this one
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = _SORT_ASC
        elif arg == b"desc":
            sort = _SORT_DESC
        elif arg == b"count" and left >= 1:
            count = parse_int(argv[i + 1])
            if count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif (
            (arg == b"store" or arg == b"storedist")
            and left >= 1
            and not flags & _NOSTORE
            and not search
        ):
            store_key = argv[i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and search and flags & _SEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and left >= 1 and search and not fromloc:
            if zs is not None:
                cx, cy = _member_pos(zs, argv[i + 1])
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and left >= 2 and search and not frommember:
            cx, cy = _lonlat(argv, i + 1)
            fromloc = True
            i += 2
        elif arg == b"byradius" and left >= 2 and search and not bybox:
            radius, conversion = _radius(argv, i + 1)
            kind = _CIRCLE
            byradius = True
            i += 2
        elif arg == b"bybox" and left >= 3 and search and not byradius:
            width, height, conversion = _box(argv, i + 1)
            kind = _BOX
            bybox = True
            i += 3
        else:
            raise CommandError(SYNTAX)
        i += 1
    if store_key is not None and (withdist or withhash or withcoord):
        raise CommandError(
            "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
            % ("GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS")
        )
    name = argv[0].decode("utf-8", "surrogateescape")
    if search and not (frommember or fromloc):
        raise CommandError(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s" % name
        )
    if search and not (byradius or bybox):
        raise CommandError("ERR exactly one of BYRADIUS and BYBOX can be specified for %s" % name)
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")

    db = c.db
    server = c.server
    if zs is None:
        if store_key is not None:
            if db.delete(store_key):
                db.notify(NOTIFY_GENERIC, "del", store_key)
                server.dirty += 1
            return INTS[0]
        return EMPTY_ARRAY
    if count and sort == _SORT_NONE and not any_:
        sort = _SORT_ASC

    points = _search(zs, cx, cy, kind, radius, width, height, conversion, count if any_ else 0)
    if not points and store_key is None:
        return EMPTY_ARRAY
    total = len(points)
    returned = total if not count or total < count else count
    if sort != _SORT_NONE:
        asc = sort == _SORT_ASC
        if returned == total:
            points = _full_sort(points, asc)
        elif len(set(p[0] for p in points)) == total and all(p[0] == p[0] for p in points):
            # Distinct distances: the first ``returned`` are the same whatever the
            # algorithm; only ties would show pqsort's particular order.
            points = sorted(points, key=itemgetter(0), reverse=not asc)
        else:
            pqsort(points, 0, returned - 1, _cmp_asc if asc else _cmp_desc)

    if store_key is None:
        return Raw(_reply(points[:returned], conversion, withdist, withhash, withcoord, c.resp))

    if returned:
        d = {}
        for p in points[:returned]:
            d[p[2]] = p[0] / conversion if storedist else p[1]
        zset = ZSet.from_dict(d, listpack=False)
        zset.shrink_encoding(server.zset_max_listpack_entries, server.zset_max_listpack_value)
        db.set(store_key, zset)
        db.notify(NOTIFY_ZSET, "geosearchstore" if search else "georadiusstore", store_key)
        server.dirty += returned
    elif db.delete(store_key):
        db.notify(NOTIFY_GENERIC, "del", store_key)
        server.dirty += 1
    return returned


def _reply(points, conversion, withdist, withhash, withcoord, resp):
    options = withdist + withhash + withcoord
    parts = [b"*%d\r\n" % len(points)]
    add = parts.append
    for dist, score, member, lon, lat in points:
        if options:
            add(b"*%d\r\n" % (options + 1))
        add(_bulk(member))
        if withdist:
            add(_bulk(format_distance(dist / conversion)))
        if withhash:
            add(b":%d\r\n" % gh.double_to_int64(score))
        if withcoord:
            add(b"*2\r\n")
            add(_coord_reply(lon, resp))
            add(_coord_reply(lat, resp))
    return b"".join(parts)


# ---------------------------------------------------------------- commands
@command("geoadd")
def geoadd(c, argv):
    n = len(argv)
    longidx = 2
    opts = []
    xx = nx = False
    while longidx < n:
        opt = cstr_lower(argv[longidx])
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        opts.append(opt)
        longidx += 1
    if (n - longidx) % 3 or (xx and nx):
        raise CommandError(SYNTAX)
    pairs = []
    for i in range(longidx, n, 3):
        lon, lat = _lonlat(argv, i)
        pairs.append(b"%d" % gh.encode_score(lon, lat))
        pairs.append(argv[i + 2])
    zargv = [b"zadd", argv[1]] + opts + pairs
    server = c.server
    dirty = server.dirty
    r = _zadd_generic(c, zargv, False)
    if server.dirty != dirty:
        # Propagated as the ZADD it became (with the options as they were written).
        c.propagate = [[b"zadd", argv[1]] + argv[2:longidx] + pairs]
    return r


@command("geodist")
def geodist(c, argv):
    to_meter = 1.0
    if len(argv) == 5:
        to_meter = _unit(argv[4])
    elif len(argv) > 5:
        raise CommandError(SYNTAX)
    zs = read_zset(c.db, argv[1])
    if zs is None:
        return None
    d = zs.dict
    s1 = d.get(argv[2])
    s2 = d.get(argv[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = gh.decode_score(s1)
    lon2, lat2 = gh.decode_score(s2)
    return format_distance(gh.distance(lon1, lat1, lon2, lat2) / to_meter)


@command("geohash")
def geohash(c, argv):
    zs = read_zset(c.db, argv[1])
    null = b"$-1\r\n" if c.resp == 2 else b"_\r\n"
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    d = zs.dict if zs is not None else {}
    for member in argv[2:]:
        score = d.get(member)
        parts.append(null if score is None else _bulk(gh.geohash_string(score)))
    return Raw(b"".join(parts))


@command("geopos")
def geopos(c, argv):
    zs = read_zset(c.db, argv[1])
    resp = c.resp
    null = b"*-1\r\n" if resp == 2 else b"_\r\n"
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    d = zs.dict if zs is not None else {}
    for member in argv[2:]:
        score = d.get(member)
        if score is None:
            parts.append(null)
        else:
            lon, lat = gh.decode_score(score)
            parts.append(b"*2\r\n" + _coord_reply(lon, resp) + _coord_reply(lat, resp))
    return Raw(b"".join(parts))


@command("georadius")
def georadius(c, argv):
    return _georadius(c, argv, 1, _COORDS)


@command("georadius_ro")
def georadius_ro(c, argv):
    return _georadius(c, argv, 1, _COORDS | _NOSTORE)


@command("georadiusbymember")
def georadiusbymember(c, argv):
    return _georadius(c, argv, 1, _MEMBER)


@command("georadiusbymember_ro")
def georadiusbymember_ro(c, argv):
    return _georadius(c, argv, 1, _MEMBER | _NOSTORE)


@command("geosearch")
def geosearch(c, argv):
    return _georadius(c, argv, 1, _SEARCH)


@command("geosearchstore")
def geosearchstore(c, argv):
    return _georadius(c, argv, 2, _SEARCH | _SEARCHSTORE)
