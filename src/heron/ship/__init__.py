"""Shipping: encoders and clients that send heron data to Loki/Prometheus-compatible receivers."""
