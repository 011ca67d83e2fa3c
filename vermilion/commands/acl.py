"""ACL <subcommand> (acl.c's aclCommand): users, categories, the ACL log.

The users themselves, their rules and the permission checks live in
:mod:`vermilion.acl`; this module parses the sub-commands and shapes the
replies exactly like Redis 7.0.15 (including which argument counts a
sub-command accepts beyond its declared arity: the rest get the generic
"unknown subcommand or wrong number of arguments" error).

ACL SETUSER's arguments are replaced with ``(redacted)`` once read, so passwords
never reach SLOWLOG (Redis's redactClientCommandArgument).
"""

import os

from .. import acl as aclmod
from ..errors import CommandError, subcommand_syntax_error
from ..protocol.encoder import OK, Map, Set
from ..util import parse_int
from ..core.table import command
from .server_cmds import help_reply

REDACTED = b"(redacted)"
_NO_ACLFILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want "
    "to specify users via the ACL SETUSER command and then issue a CONFIG "
    "REWRITE (assuming you have a Redis configuration file set) in order to "
    "store users in the Redis configuration."
)
GENPASS_MAX_BITS = 4096

_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]


def _text(b):
    return aclmod._text(b)


def _err(msg):
    """addReplyErrorFormat: newlines in the message become spaces."""
    return CommandError("ERR " + msg.replace("\r", " ").replace("\n", " "))


@command("acl|setuser")
def acl_setuser(c, argv):
    args = [bytes(a) for a in argv[2:]]
    for j in range(2, len(argv)):
        argv[j] = REDACTED
    name = args[0]
    if aclmod._has_spaces(name):
        raise _err("Usernames can't contain spaces or null characters")
    err = c.server.acl.set_user(name, args[1:])
    if err is not None:
        raise _err(err)
    return OK


@command("acl|deluser")
def acl_deluser(c, argv):
    for name in argv[2:]:
        if aclmod._cstr(name) == b"default":  # strcmp: stops at a NUL
            raise _err("The 'default' user cannot be removed")
    state = c.server.acl
    return sum(1 for name in argv[2:] if state.delete_user(name))


@command("acl|getuser")
def acl_getuser(c, argv):
    u = c.server.acl.get(argv[2])
    if u is None:
        return None
    flags = Set(name.encode() for flag, name in aclmod._USER_FLAGS if u.flags & flag)
    out = [b"flags", flags, b"passwords", list(u.passwords)]
    out.extend(u.root.getuser_fields())
    out.append(b"selectors")
    out.append([Map(s.getuser_fields()) for s in u.selectors[1:]])
    return Map(out)


@command("acl|list")
def acl_list(c, argv):
    return c.server.acl.list_lines()


@command("acl|users")
def acl_users(c, argv):
    return sorted(c.server.acl.users)


@command("acl|whoami")
def acl_whoami(c, argv):
    return c.user.encode("utf-8", "surrogateescape") if c.user is not None else None


def _aclfile(c):
    name = c.server.config.get("aclfile") or ""
    if not name:
        raise CommandError(_NO_ACLFILE)
    return name


@command("acl|load")
def acl_load(c, argv):
    err = c.server.acl.load(_aclfile(c))
    if err is not None:
        raise _err(err)
    return OK


@command("acl|save")
def acl_save(c, argv):
    if not c.server.acl.save(_aclfile(c)):
        raise CommandError(
            "ERR There was an error trying to save the ACLs. Please check "
            "the server logs for more information"
        )
    return OK


@command("acl|cat")
def acl_cat(c, argv):
    if len(argv) == 2:
        return [name.encode() for name in aclmod.CATEGORIES]
    if len(argv) != 3:
        raise subcommand_syntax_error(argv)
    j = aclmod._CAT_INDEX.get(aclmod._cstr(argv[2]).lower().decode("latin-1"))
    if j is None:
        raise _err("Unknown category '%s'" % _text(aclmod._cstr(argv[2])[:128]))
    u = aclmod.universe()
    mask = u.cat_mask[j]
    out = []
    for e in u.order:
        if e.bit & mask:
            out.append(e.fullname.encode())
        for s in e.subs:
            if s.bit & mask:
                out.append(s.fullname.encode())
    return out


@command("acl|genpass")
def acl_genpass(c, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    bits = 256
    if len(argv) == 3:
        bits = parse_int(argv[2])
    if bits <= 0 or bits > GENPASS_MAX_BITS:
        raise _err(
            "ACL GENPASS argument must be the number of bits for the output "
            "password, a positive number up to %d" % GENPASS_MAX_BITS
        )
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars].encode()


@command("acl|log")
def acl_log(c, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    count = 10
    state = c.server.acl
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            state.log.clear()
            return OK
        count = max(parse_int(argv[2]), 0)
    return state.log_reply(count)


@command("acl|dryrun")
def acl_dryrun(c, argv):
    state = c.server.acl
    u = state.get(argv[2])
    if u is None:
        raise _err("User '%s' not found" % _text(argv[2]))
    args = argv[3:]
    cmd = _lookup_command(args)
    if cmd is None:
        raise _err("Command '%s' not found" % _text(argv[3]))
    n = len(args)
    if (cmd.arity > 0 and cmd.arity != n) or n < -cmd.arity:
        raise _err("wrong number of arguments for '%s' command" % cmd.fullname)
    r, idx = u.permits(cmd, args)
    if r == aclmod.DENIED_CMD:
        return ("This user has no permissions to run the '%s' command" % cmd.fullname).encode()
    if r == aclmod.DENIED_KEY:
        return b"This user has no permissions to access the '%s' key" % aclmod._cstr(args[idx])
    if r == aclmod.DENIED_CHANNEL:
        return b"This user has no permissions to access the '%s' channel" % aclmod._cstr(args[idx])
    return OK


def _lookup_command(args):
    """lookupCommand over every command Redis knows (bound or not), non-strict."""
    u = aclmod.universe()
    base = u.by_name.get(args[0].lower())
    if base is None or base.parent is not None:
        return None
    if len(args) == 1 or not base.subs:
        return base.cmd
    sub = u.by_name.get(args[0].lower() + b"|" + args[1].lower())
    return sub.cmd if sub is not None else None


@command("acl|help")
def acl_help(c, argv):
    return help_reply(argv[0], _HELP)
