"""REPLCONF, WAIT, ROLE, PSYNC, REPLICAOF arguments and errors, byte for byte against
redis-server 7.0 (both masters without replicas: nothing here links them)."""


def test_replconf_options_and_errors(diff):
    diff.run("""
        REPLCONF
        REPLCONF listening-port
        REPLCONF listening-port 6380 capa
        REPLCONF listening-port abc
        REPLCONF listening-port 99999999999999999999
        REPLCONF listening-port 6380
        REPLCONF LISTENING-PORT -5 CAPA eof capa psync2 capa unknown
        REPLCONF ip-address 10.0.0.1
        REPLCONF foo bar
        REPLCONF capa eof foo bar
        REPLCONF rdb-only 1
        REPLCONF rdb-only 0
        REPLCONF rdb-only 2
        REPLCONF rdb-only x
        REPLCONF rdb-filter-only functions
        REPLCONF rdb-filter-only ""
        REPLCONF rdb-filter-only "functions keys"
    """)
    diff("REPLCONF", "ip-address", "x" * 256)
    diff("REPLCONF", "ip-address", "x" * 255)


def test_replconf_ack_and_getack_do_not_reply(diff):
    # a normal client's ACK is ignored, a master's GETACK too: no reply at all
    diff.raw(b"REPLCONF ACK 100\r\nREPLCONF GETACK *\r\nREPLCONF ACK x\r\nPING\r\n")
    diff.raw(b"REPLCONF listening-port 1 ACK 5\r\nPING\r\n")


def test_wait_errors_and_no_replicas(diff):
    diff.run("""
        WAIT
        WAIT 1
        WAIT abc 0
        WAIT 0 abc
        WAIT 0 -1
        WAIT 0 1.5
        WAIT 0 0
        WAIT -1 0
        SET k v
        WAIT 0 0
        WAIT 1 20
        MULTI
        WAIT 1 0
        EXEC
    """)


def test_role_and_replicaof_errors(diff):
    diff.run("""
        ROLE
        ROLE x
        REPLICAOF
        REPLICAOF NO ONE
        SLAVEOF no one
        REPLICAOF host abc
        REPLICAOF host 70000
        REPLICAOF host -1
        SLAVEOF host 1.5
        REPLICAOF no
        PSYNC
        PSYNC a
        SYNC x
        MULTI
        PSYNC ? -1
        SYNC
        DISCARD
    """)
