"""Who we are and whom we imitate: the bottom floor every module may import."""

__version__ = "0.1.0"
REDIS_VERSION = "7.0.15"  # the Redis whose behaviour we promise
