"""Container log tailing for the node agent."""
