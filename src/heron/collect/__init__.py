"""Collection: the node agent's readers of container logs and metrics.

`heron.collect.logs` tails Kubernetes container log files and parses them into entries.
"""
