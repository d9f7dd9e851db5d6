"""HTTP APIs on one port: Loki, Prometheus, health and Heron's own metrics."""
