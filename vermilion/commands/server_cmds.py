"""Server commands: INFO, CONFIG, COMMAND, DEBUG, SLOWLOG, ... (minimal core, being filled in)."""
from ..errors import CommandError
from ..protocol.encoder import OK, Raw
from .table import command, COMMANDS


@command("config|get")
def config_get(c, argv):
    import fnmatch
    out = []
    cfg = c.server.config
    seen = set()
    for pat in argv[2:]:
        p = pat.decode().lower()
        for name in cfg.names():
            if name not in seen and fnmatch.fnmatchcase(name, p):
                seen.add(name)
                out.append(name.encode())
                out.append(cfg.get(name).encode())
    return out


@command("info")
def info(c, argv):
    from .. import REDIS_VERSION, __version__
    s = c.server
    lines = ["# Server", "redis_version:%s" % REDIS_VERSION, "vermilion_version:%s" % __version__,
             "redis_mode:standalone", "arch_bits:64", "tcp_port:%d" % s.port, "",
             "# Cluster", "cluster_enabled:0", ""]
    return ("\r\n".join(lines)).encode()
