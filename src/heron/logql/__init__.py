"""LogQL for Heron: the language (`heron.logql.syntax`) kept apart from its evaluation.

As in Loki's `pkg/logql/syntax`, the syntax package imports no evaluation code, so the API,
the rules manager and the UI can parse and print queries without loading the engine.
"""
