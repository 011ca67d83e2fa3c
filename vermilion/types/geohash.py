"""Geohashes as Redis computes them (geohash.c, geohash_helper.c).

A GEO member is a sorted-set member whose score is a 52-bit integer: the
longitude and latitude, each scaled to 26 bits over Redis's ranges
(-180..180 and -85.05112878..85.05112878, the Web Mercator limits), with the
latitude bits in the even positions and the longitude bits in the odd ones.
Nearby points share score prefixes, so "every point in this geohash box" is a
score range of the sorted set, and a radius or box search reads the box around
the centre and its eight neighbours at a precision ("step") chosen from the
search size.

Everything here repeats Redis's arithmetic operation by operation, in doubles,
with the same libm functions (``math.sin`` & co. call the C library), so the
decoded coordinates, the distances and the choice of boxes are bit for bit
Redis's. Where C has no error (``asin`` of a value a rounding error put past 1,
``cos`` of an infinity, a division by zero) the helpers return NaN or an
infinity as C would instead of raising.
"""

import math

STEP_MAX = 26
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
LONG_MIN = -180.0
LONG_MAX = 180.0
LAT_SCALE = LAT_MAX - LAT_MIN
LONG_SCALE = LONG_MAX - LONG_MIN

D_R = math.pi / 180.0  # degrees -> radians, as geohash_helper.c's D_R
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37

_MASK64 = 0xFFFFFFFFFFFFFFFF
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_TWO63 = 2.0**63
_TWO64 = 2.0**64
_nan = math.nan


# ------------------------------------------------------------- bit shuffles
def _spread8(b):
    """The 8 bits of ``b`` in the even positions of 16 bits."""
    out = 0
    for i in range(8):
        out |= ((b >> i) & 1) << (2 * i)
    return out


_SPREAD = [_spread8(b) for b in range(256)]
_COMPRESS8 = bytes(sum(((b >> (2 * i)) & 1) << i for i in range(4)) for b in range(256))
# 16 bits -> their 8 even bits (_EVEN16) / 8 odd bits (_ODD16): one lookup per 16 bits.
# Built a row (256 entries) at a time with bytes.translate, not 65,536 Python steps
# each (that took 10 ms of every server's start-up): a row is the low byte's table
# with the high byte's four bits or-ed in, and there are only 16 such bit patterns.
# The two tables (128 KB) are built by the first deinterleave64, not by every
# server at start-up.
_EVEN16 = _ODD16 = b""


def _build16():
    global _EVEN16, _ODD16
    or_high = [bytes(x | (k << 4) for x in range(256)) for k in range(16)]
    odd8 = bytes(_COMPRESS8[lo >> 1] for lo in range(256))
    _ODD16 = b"".join(odd8.translate(or_high[_COMPRESS8[hi >> 1]]) for hi in range(256))
    _EVEN16 = b"".join(_COMPRESS8.translate(or_high[_COMPRESS8[hi]]) for hi in range(256))


def interleave64(xlo, ylo):
    """Bits of ``xlo`` in the even positions, bits of ``ylo`` in the odd ones (32 bits each)."""
    s = _SPREAD
    x = (
        s[xlo & 255]
        | s[(xlo >> 8) & 255] << 16
        | s[(xlo >> 16) & 255] << 32
        | s[(xlo >> 24) & 255] << 48
    )
    y = (
        s[ylo & 255]
        | s[(ylo >> 8) & 255] << 16
        | s[(ylo >> 16) & 255] << 32
        | s[(ylo >> 24) & 255] << 48
    )
    return x | (y << 1)


def deinterleave64(v):
    """(even bits, odd bits) of a 64-bit value, 32 bits each."""
    e = _EVEN16
    if not e:
        _build16()
        e = _EVEN16
    o = _ODD16
    a = v & 0xFFFF
    b = (v >> 16) & 0xFFFF
    c = (v >> 32) & 0xFFFF
    d = v >> 48
    return (e[a] | e[b] << 8 | e[c] << 16 | e[d] << 24, o[a] | o[b] << 8 | o[c] << 16 | o[d] << 24)


def double_to_uint64(d):
    """C's ``(uint64_t)d`` as x86-64 code computes it, for any double."""
    if d != d:
        return 1 << 63  # the "integer indefinite" of cvttsd2si
    if d < _TWO63:
        if d <= -_TWO63:
            return 1 << 63
        return int(d) & _MASK64
    if d >= _TWO64:
        return 0  # indefinite (1 << 63) xor the sign bit
    return int(d - _TWO63) ^ (1 << 63)


def double_to_int64(d):
    """C's ``(long long)d`` on x86-64 (LLONG_MIN when out of range)."""
    if d != d or not -_TWO63 <= d < _TWO63:
        return -(1 << 63)
    return int(d)


# ---------------------------------------------------------- encode / decode
def encode(
    longitude,
    latitude,
    step=STEP_MAX,
    lon_min=LONG_MIN,
    lon_max=LONG_MAX,
    lat_min=LAT_MIN,
    lat_max=LAT_MAX,
):
    """geohashEncode: the hash bits (2*step of them), or None outside the ranges."""
    if longitude > LONG_MAX or longitude < LONG_MIN or latitude > LAT_MAX or latitude < LAT_MIN:
        return None
    if latitude < lat_min or latitude > lat_max or longitude < lon_min or longitude > lon_max:
        return None
    lat_offset = (latitude - lat_min) / (lat_max - lat_min)
    long_offset = (longitude - lon_min) / (lon_max - lon_min)
    scale = float(1 << step)
    lat_offset *= scale
    long_offset *= scale
    return interleave64(int(lat_offset) & 0xFFFFFFFF, int(long_offset) & 0xFFFFFFFF)


def encode_score(longitude, latitude):
    """The sorted-set score of a valid position: its 52-bit geohash."""
    return encode(longitude, latitude)


def decode_area(bits, step):
    """geohashDecode over Redis's ranges: (lon_min, lon_max, lat_min, lat_max)."""
    ilato, ilono = deinterleave64(bits)
    div = float(1 << step)
    return (
        LONG_MIN + (ilono * 1.0 / div) * LONG_SCALE,
        LONG_MIN + (((ilono + 1) & 0xFFFFFFFF) * 1.0 / div) * LONG_SCALE,
        LAT_MIN + (ilato * 1.0 / div) * LAT_SCALE,
        LAT_MIN + (((ilato + 1) & 0xFFFFFFFF) * 1.0 / div) * LAT_SCALE,
    )


def decode_score(score):
    """decodeGeohash: the (longitude, latitude) a sorted-set score stands for,
    the centre of its step-26 box, clamped to the valid ranges."""
    ilato, ilono = deinterleave64(double_to_uint64(score))
    lon_lo = LONG_MIN + (ilono * 1.0 / 67108864.0) * LONG_SCALE
    lon_hi = LONG_MIN + (((ilono + 1) & 0xFFFFFFFF) * 1.0 / 67108864.0) * LONG_SCALE
    lat_lo = LAT_MIN + (ilato * 1.0 / 67108864.0) * LAT_SCALE
    lat_hi = LAT_MIN + (((ilato + 1) & 0xFFFFFFFF) * 1.0 / 67108864.0) * LAT_SCALE
    lon = (lon_lo + lon_hi) / 2
    if lon > LONG_MAX:
        lon = LONG_MAX
    if lon < LONG_MIN:
        lon = LONG_MIN
    lat = (lat_lo + lat_hi) / 2
    if lat > LAT_MAX:
        lat = LAT_MAX
    if lat < LAT_MIN:
        lat = LAT_MIN
    return lon, lat


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score):
    """GEOHASH's 11-character standard geohash of a member's score."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, 26, -180.0, 180.0, -90.0, 90.0)
    a = _ALPHABET
    return bytes([a[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10)]) + b"0"


# --------------------------------------------------------------- neighbours
def _move(bits, step, d, axis, other):
    """geohash_move_x (axis = odd bits) / geohash_move_y (axis = even bits):
    one box along an axis, wrapping around."""
    x = bits & axis
    zz = other >> (64 - step * 2)
    if d > 0:
        x = (x + (zz + 1)) & _MASK64
    else:
        x = ((x | zz) - (zz + 1)) & _MASK64
    return (x & (axis >> (64 - step * 2))) | (bits & other)


def _move_x(bits, step, d):
    return _move(bits, step, d, _ODD, _EVEN)


def _move_y(bits, step, d):
    return _move(bits, step, d, _EVEN, _ODD)


def neighbors(bits, step):
    """geohashNeighbors: dict of the eight boxes around ``bits``."""
    east = _move_x(bits, step, 1)
    west = _move_x(bits, step, -1)
    return {
        "north": _move_y(bits, step, 1),
        "south": _move_y(bits, step, -1),
        "east": east,
        "west": west,
        "north_east": _move_y(east, step, 1),
        "north_west": _move_y(west, step, 1),
        "south_east": _move_y(east, step, -1),
        "south_west": _move_y(west, step, -1),
    }


# ------------------------------------------------------------- C-like libm
def _cos(x):
    return math.cos(x) if x - x == 0.0 else _nan


def _sin(x):
    return math.sin(x) if x - x == 0.0 else _nan


def _asin(x):
    return math.asin(x) if -1.0 <= x <= 1.0 else _nan


def _sqrt(x):
    return math.sqrt(x) if x >= 0.0 else (_nan if x == x else x)


def _div(a, b):
    """a / b with IEEE results for a zero divisor."""
    if b:
        return a / b
    if a != a or a == 0:
        return _nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


# ----------------------------------------------------------------- distances
def lat_distance(lat1, lat2):
    """geohashGetLatDistance: metres along a meridian."""
    return EARTH_RADIUS_IN_METERS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1, lat1, lon2, lat2):
    """geohashGetDistance: haversine great-circle distance in metres."""
    lon1r = lon1 * D_R
    lon2r = lon2 * D_R
    v = _sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return EARTH_RADIUS_IN_METERS * abs(lat2 * D_R - lat1 * D_R)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * _asin(_sqrt(a))


# ------------------------------------------------------------ search areas
def estimate_steps_by_radius(range_meters, lat):
    """geohashEstimateStepsByRadius: the box precision for a search this wide."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    if step < 1:
        step = 1
    if step > 26:
        step = 26
    return step


def bounding_box(lon, lat, half_width, half_height):
    """geohashBoundingBox: (min_lon, min_lat, max_lon, max_lat) around a point,
    ``half_width``/``half_height`` in metres."""
    lat_delta = (half_height / EARTH_RADIUS_IN_METERS) / D_R
    long_delta_top = _div(half_width / EARTH_RADIUS_IN_METERS, _cos((lat + lat_delta) * D_R)) / D_R
    long_delta_bottom = (
        _div(half_width / EARTH_RADIUS_IN_METERS, _cos((lat - lat_delta) * D_R)) / D_R
    )
    if lat < 0:
        return (lon - long_delta_bottom, lat - lat_delta, lon + long_delta_bottom, lat + lat_delta)
    return (lon - long_delta_top, lat - lat_delta, lon + long_delta_top, lat + lat_delta)


def search_areas(lon, lat, radius_meters, half_width, half_height):
    """geohashCalculateAreasByShapeWGS84: the boxes to scan, in Redis's order
    (centre, N, S, E, W, NE, NW, SE, SW), each ``(bits, step)`` or None when
    excluded."""
    min_lon, min_lat, max_lon, max_lat = bounding_box(lon, lat, half_width, half_height)
    steps = estimate_steps_by_radius(radius_meters, lat)
    bits = encode(lon, lat, steps)
    nb = neighbors(bits, steps)
    decrease = False
    if decode_area(nb["north"], steps)[3] < max_lat:
        decrease = True
    if decode_area(nb["south"], steps)[2] > min_lat:
        decrease = True
    if decode_area(nb["east"], steps)[1] < max_lon:
        decrease = True
    if decode_area(nb["west"], steps)[0] > min_lon:
        decrease = True
    if steps > 1 and decrease:
        steps -= 1
        bits = encode(lon, lat, steps)
        nb = neighbors(bits, steps)
    area = decode_area(bits, steps)
    if steps >= 2:
        if area[2] < min_lat:
            nb["south"] = nb["south_west"] = nb["south_east"] = None
        if area[3] > max_lat:
            nb["north"] = nb["north_east"] = nb["north_west"] = None
        if area[0] < min_lon:
            nb["west"] = nb["south_west"] = nb["north_west"] = None
        if area[1] > max_lon:
            nb["east"] = nb["south_east"] = nb["north_east"] = None
    order = (
        bits,
        nb["north"],
        nb["south"],
        nb["east"],
        nb["west"],
        nb["north_east"],
        nb["north_west"],
        nb["south_east"],
        nb["south_west"],
    )
    return [None if b is None else (b, steps) for b in order]


def box_scores(bits, step):
    """scoresOfGeoHashBox: the [min, max) score range of a box."""
    shift = 52 - step * 2
    return bits << shift, (bits + 1) << shift
