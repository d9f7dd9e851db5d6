"""Receivers: decode what clients push (Loki push, remote write, OTLP) into storage batches."""
