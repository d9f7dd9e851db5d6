"""Metric collection: exposition parsing, scraping, target discovery and relabeling glue.

Modules (each one job):
- `exposition`: Prometheus text 0.0.4 and OpenMetrics 1.0 bodies -> sample columns + metadata.
- `metadata`: HELP/TYPE/UNIT kept per metric, for `/api/v1/metadata`.
- `scrape`: the scrape loop, pools and manager (scheduling, staleness, synthetic series).
- `filesd`, `kubesd`: target discovery from files and from the Kubernetes API.
- `defaults`: the zero-configuration scrape configs inside a cluster.
"""
