"""Pin heron.promconfig's public interface: the scraper, discovery and remote-write code is
written against these names, so a rename must be a deliberate change here too."""

from __future__ import annotations

import heron.collect.metrics.filesd as filesd
import heron.promconfig as promconfig


def test_exported_names() -> None:
    assert sorted(promconfig.__all__) == sorted(
        [
            "Authorization",
            "BasicAuth",
            "FileSDConfig",
            "GlobalConfig",
            "KUBERNETES_ROLES",
            "KubernetesSDConfig",
            "KubernetesSelector",
            "MetadataConfig",
            "PromConfig",
            "QueueConfig",
            "RelabelConfig",
            "RemoteWriteConfig",
            "SECTION_KEYS",
            "ScrapeConfig",
            "StaticConfig",
            "TLSConfig",
            "format_duration",
            "parse_prom_config",
            "populate_labels",
            "relabel",
            "target_url",
        ]
    )
    for name in promconfig.__all__:
        assert hasattr(promconfig, name), name
    assert sorted(filesd.__all__) == ["FileSD", "MAX_FILE_BYTES", "MAX_FILE_TARGETS", "parse_target_groups"]


def test_section_keys_agree_with_the_settings_reader() -> None:
    from heron.config import PROM_SECTION_KEYS

    assert PROM_SECTION_KEYS == promconfig.SECTION_KEYS == ("global", "scrape_configs", "remote_write")
