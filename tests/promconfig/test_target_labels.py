"""populate_labels, target_url and their Go-shaped helpers, case by case (the real-Prometheus
comparison in test_targets_prometheus.py covers them together)."""

from __future__ import annotations

import pytest

from heron.promconfig import RelabelConfig, ScrapeConfig, format_duration, populate_labels, target_url
from heron.promconfig.targets import split_host_port


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (15, "15s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (86400, "1d"),
        (7 * 86400, "1w"),
        (8 * 86400, "8d"),  # weeks only when exact
        (365 * 86400, "1y"),
        (90 * 86400, "90d"),
        (3661.001, "1h1m1s1ms"),
    ],
)
def test_format_duration_is_model_duration_string(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("address", "split"),
    [
        ("a:1", ("a", "1")),
        ("a:", ("a", "")),
        ("[::1]:9", ("::1", "9")),
        ("a", None),
        ("a:b:c", None),
        ("[::1]", None),
        ("[::1", None),
        ("[a]b:1", None),
        ("a]:1", None),
        ("::1", None),
    ],
)
def test_split_host_port_is_go(address: str, split: tuple[str, str] | None) -> None:
    assert split_host_port(address) == split


def _cfg(**kw: object) -> ScrapeConfig:
    return ScrapeConfig(job_name="j", scrape_interval=15.0, scrape_timeout=5.0, **kw)  # type: ignore[arg-type]


def test_defaults_go_in_before_relabeling() -> None:
    labels, discovered, error = populate_labels(
        {"env": "p", "x": "group"}, {"__address__": "h", "x": "t"}, _cfg()
    )
    assert error is None
    assert discovered == {
        "__address__": "h",
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "__scrape_interval__": "15s",
        "__scrape_timeout__": "5s",
        "env": "p",
        "job": "j",
        "x": "t",  # the target's own label wins over its group's
    }
    assert labels is not None
    assert labels["__address__"] == "h:80" and labels["instance"] == "h:80"


def test_target_labels_win_over_defaults_but_params_do_not() -> None:
    cfg = _cfg(params={"module": ("a", "b")}, scheme="https")
    target = {"__address__": "h", "job": "mine", "__scheme__": "http", "__param_module": "z"}
    labels, discovered, _ = populate_labels({}, target, cfg)
    assert discovered["job"] == "mine" and discovered["__scheme__"] == "http"
    assert discovered["__param_module"] == "a"
    assert labels is not None and labels["__address__"] == "h:80"
    assert target_url(labels, cfg.params) == "http://h:80/metrics?module=a&module=b"


def test_meta_labels_go_and_instance_stays_if_set() -> None:
    cfg = _cfg(relabel_configs=(RelabelConfig(target_label="instance", replacement="nice"),))
    labels, discovered, _ = populate_labels({"__meta_x": "1"}, {"__address__": "h:9"}, cfg)
    assert discovered["__meta_x"] == "1"
    assert labels is not None and "__meta_x" not in labels and labels["instance"] == "nice"


@pytest.mark.parametrize(
    ("relabel", "error"),
    [
        (RelabelConfig(regex="__address__", action="labeldrop"), "no address"),
        (RelabelConfig(target_label="__scheme__", replacement="ftp"), 'invalid scheme: "http"'),
        (RelabelConfig(target_label="__address__", replacement="h/x"), '"h/x:80" is not a valid hostname'),
        (RelabelConfig(target_label="__scrape_interval__", replacement="0"), "scrape interval cannot be 0"),
        (RelabelConfig(target_label="__scrape_timeout__", replacement="1h"), "cannot be greater"),
        (
            RelabelConfig(target_label="__scrape_timeout__", replacement="soon"),
            "error parsing scrape timeout",
        ),
    ],
)
def test_errors_drop_the_target_from_both_lists(relabel: RelabelConfig, error: str) -> None:
    labels, discovered, problem = populate_labels({}, {"__address__": "h"}, _cfg(relabel_configs=(relabel,)))
    assert labels is None and discovered == {}
    assert problem is not None and error in problem


def test_dropped_keeps_discovered() -> None:
    cfg = _cfg(relabel_configs=(RelabelConfig(source_labels=("env",), regex="dev", action="drop"),))
    labels, discovered, error = populate_labels({"env": "dev"}, {"__address__": "h:1"}, cfg)
    assert labels is None and error is None and discovered["env"] == "dev"


def test_arguments_are_not_changed() -> None:
    group, target = {"env": "p"}, {"__address__": "h", "empty": ""}
    populate_labels(group, target, _cfg(relabel_configs=(RelabelConfig(target_label="a", replacement="b"),)))
    assert group == {"env": "p"} and target == {"__address__": "h", "empty": ""}


@pytest.mark.parametrize(
    ("labels", "url"),
    [
        ({"__scheme__": "http", "__address__": "h:1", "__metrics_path__": "/metrics"}, "http://h:1/metrics"),
        ({"__scheme__": "https", "__address__": "h:1", "__metrics_path__": "probe"}, "https://h:1/probe"),
        (
            {"__scheme__": "http", "__address__": "h:1", "__metrics_path__": "/a b?", "__param_q": "x y&z"},
            "http://h:1/a%20b%3F?q=x+y%26z",
        ),
        (
            {
                "__scheme__": "http",
                "__address__": "[::1]:1",
                "__metrics_path__": "/",
                "__param_b": "2",
                "__param_a": "1",
            },
            "http://[::1]:1/?a=1&b=2",
        ),
    ],
)
def test_target_url(labels: dict[str, str], url: str) -> None:
    assert target_url(labels) == url
