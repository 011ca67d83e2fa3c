"""Hash slots: which of the 16384 slots a key belongs to (Redis's keyHashSlot).

A Redis Cluster splits the keyspace into 16384 slots. A key's slot is the CRC16
(the XMODEM variant: polynomial 0x1021, initial value 0) of the key, modulo
16384. When the key holds a ``{...}`` with at least one byte between the braces,
only that part is hashed, so ``{user1000}.following`` and ``{user1000}.followers``
land in the same slot and a multi-key command may use both.

``binascii.crc_hqx`` is exactly that CRC in C, so a key's slot costs one call.
"""

from binascii import crc_hqx

CLUSTER_SLOTS = 16384


def key_hash_slot(key: bytes) -> int:
    """The hash slot of ``key``, honouring a non-empty ``{hash tag}``."""
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            return crc_hqx(key[s + 1 : e], 0) & 0x3FFF
    return crc_hqx(key, 0) & 0x3FFF


def keys_by_slot(keys) -> dict:
    """slot -> [key, ...] for an iterable of keys (one pass, insertion order kept)."""
    out: dict = {}
    for k in keys:
        s = k.find(b"{")
        if s >= 0:
            e = k.find(b"}", s + 1)
            slot = crc_hqx(k[s + 1 : e] if e > s + 1 else k, 0) & 0x3FFF
        else:
            slot = crc_hqx(k, 0) & 0x3FFF
        lst = out.get(slot)
        if lst is None:
            out[slot] = [k]
        else:
            lst.append(k)
    return out
