"""PromQL for Heron: the language (`heron.promql.syntax`) kept apart from its evaluation.

As with `heron.logql`, the syntax package imports no evaluation code, so the API, the rules
manager and the UI can parse and print queries without loading numpy-heavy evaluation.

Evaluation (`heron.promql.engine.Engine`) works over whole arrays: an instant vector is a
(series x steps) matrix of values with a presence mask (`heron.promql.value.Vector`), so a
range query evaluates every step of a series in one numpy operation. Function and
aggregation implementations are plain functions of evaluated values
(`heron.promql.functions.FUNCTIONS`, `heron.promql.aggregate.aggregate`).
"""
