"""Collection: the node agent's readers of container logs and metrics."""
