"""Redis Cluster: hash slots, the cluster bus, cluster state.

The modules here implement Redis 7.0 Cluster for Vermilion: key hash slots,
the binary cluster bus protocol spoken between nodes, and the cluster state
each node keeps about its peers."""
