"""Prometheus' remote-write messages for the protobuf runtime, built from descriptors at import.

An independent implementation of the wire format (Google's `protobuf` package) to check
Heron's hand-written decoder and encoder against. Field numbers and types transcribe
prompb/types.proto, prompb/remote.proto and prompb/io/prometheus/write/v2/types.proto; native
histograms keep only `count_int`, `sum` and `timestamp`, enough to count them.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_T = {
    "double": _F.TYPE_DOUBLE,
    "int64": _F.TYPE_INT64,
    "uint64": _F.TYPE_UINT64,
    "uint32": _F.TYPE_UINT32,
    "string": _F.TYPE_STRING,
    "enum": _F.TYPE_ENUM,
}


def _message(
    fd: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple[str, int, str, bool]]
) -> None:
    msg = fd.message_type.add(name=name)
    for fname, num, ftype, repeated in fields:
        f = msg.field.add(name=fname, number=num)
        f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        if ftype in _T and ftype != "enum":
            f.type = _T[ftype]
        elif ftype.startswith("enum:"):
            f.type = _F.TYPE_ENUM
            f.type_name = ftype[5:]
        else:
            f.type = _F.TYPE_MESSAGE
            f.type_name = ftype


def _build() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    v1 = descriptor_pb2.FileDescriptorProto(
        name="heron_test_prompb.proto", package="prometheus", syntax="proto3"
    )
    enum = v1.enum_type.add(name="MetricType")
    for i, n in enumerate(
        ("UNKNOWN", "COUNTER", "GAUGE", "HISTOGRAM", "GAUGEHISTOGRAM", "SUMMARY", "INFO", "STATESET")
    ):
        enum.value.add(name=n, number=i)
    _message(v1, "Label", [("name", 1, "string", False), ("value", 2, "string", False)])
    _message(v1, "Sample", [("value", 1, "double", False), ("timestamp", 2, "int64", False)])
    _message(
        v1,
        "Exemplar",
        [
            ("labels", 1, ".prometheus.Label", True),
            ("value", 2, "double", False),
            ("timestamp", 3, "int64", False),
        ],
    )
    _message(
        v1,
        "Histogram",
        [("count_int", 1, "uint64", False), ("sum", 3, "double", False), ("timestamp", 15, "int64", False)],
    )
    _message(
        v1,
        "TimeSeries",
        [
            ("labels", 1, ".prometheus.Label", True),
            ("samples", 2, ".prometheus.Sample", True),
            ("exemplars", 3, ".prometheus.Exemplar", True),
            ("histograms", 4, ".prometheus.Histogram", True),
        ],
    )
    _message(
        v1,
        "MetricMetadata",
        [
            ("type", 1, "enum:.prometheus.MetricType", False),
            ("metric_family_name", 2, "string", False),
            ("help", 4, "string", False),
            ("unit", 5, "string", False),
        ],
    )
    _message(
        v1,
        "WriteRequest",
        [
            ("timeseries", 1, ".prometheus.TimeSeries", True),
            ("metadata", 3, ".prometheus.MetricMetadata", True),
        ],
    )
    pool.Add(v1)

    v2 = descriptor_pb2.FileDescriptorProto(
        name="heron_test_writev2.proto", package="io.prometheus.write.v2", syntax="proto3"
    )
    p = ".io.prometheus.write.v2."
    _message(v2, "Sample", [("value", 1, "double", False), ("timestamp", 2, "int64", False)])
    _message(
        v2,
        "Exemplar",
        [("labels_refs", 1, "uint32", True), ("value", 2, "double", False), ("timestamp", 3, "int64", False)],
    )
    _message(
        v2,
        "Histogram",
        [("count_int", 1, "uint64", False), ("sum", 3, "double", False), ("timestamp", 15, "int64", False)],
    )
    _message(
        v2,
        "Metadata",
        [("type", 1, "uint32", False), ("help_ref", 3, "uint32", False), ("unit_ref", 4, "uint32", False)],
    )
    _message(
        v2,
        "TimeSeries",
        [
            ("labels_refs", 1, "uint32", True),
            ("samples", 2, p + "Sample", True),
            ("histograms", 3, p + "Histogram", True),
            ("exemplars", 4, p + "Exemplar", True),
            ("metadata", 5, p + "Metadata", False),
            ("created_timestamp", 6, "int64", False),
        ],
    )
    _message(v2, "Request", [("symbols", 4, "string", True), ("timeseries", 5, p + "TimeSeries", True)])
    pool.Add(v2)
    get = message_factory.GetMessageClass
    return {
        "WriteRequest": get(pool.FindMessageTypeByName("prometheus.WriteRequest")),
        "Request": get(pool.FindMessageTypeByName("io.prometheus.write.v2.Request")),
    }


_CLASSES = _build()
WriteRequest = _CLASSES["WriteRequest"]
RequestV2 = _CLASSES["Request"]
