"""`heron demo`: Heron on a simulated node, for a first look with nothing to install.

Uses only public pieces: pods write real log files under a temporary `/var/log/pods`-style
tree (with kubelet-style rotation and restarts), the fake Kubernetes API serves their
metadata, and `heron all` tails, ships, stores and serves them.
"""

from heron.demo.node import SimulatedNode

__all__ = ["SimulatedNode"]
