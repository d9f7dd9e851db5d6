"""Prometheus' PromQL test-file runner: parse `.test` files, load their series into an
in-memory source, and run their evals against heron's engine under Prometheus' harness rules.
"""
