import { describe, expect, it } from "vitest";
import { logsLink, logsSelector, podMetricsLink, podQueries, seriesLabel } from "./series";

describe("seriesLabel", () => {
  it("writes series as Prometheus does: name, then labels in name order", () => {
    expect(seriesLabel({ __name__: "up", job: "heron", instance: "a:1" })).toBe('up{instance="a:1", job="heron"}');
    expect(seriesLabel({ __name__: "up" })).toBe("up");
    expect(seriesLabel({ namespace: "api" })).toBe('{namespace="api"}');
    expect(seriesLabel({})).toBe("{}");
  });
  it("escapes quotes and backslashes in values", () => {
    expect(seriesLabel({ path: 'a"b\\c' })).toBe('{path="a\\"b\\\\c"}');
  });
});

describe("logs for a series", () => {
  it("needs a namespace and a pod; takes the container when there is one", () => {
    expect(logsSelector({ namespace: "api", pod: "p-1", container: "app", job: "x" })).toBe(
      '{namespace="api", pod="p-1", container="app"}',
    );
    expect(logsSelector({ namespace: "api", pod: "p-1", container: "" })).toBe('{namespace="api", pod="p-1"}');
    expect(logsSelector({ namespace: "api" })).toBeNull();
    expect(logsSelector({ pod: "p-1" })).toBeNull();
  });
  it("links to the logs explorer over the same range", () => {
    const link = logsLink({ namespace: "db", pod: "postgres-0", container: "postgres" }, "now-6h", "now");
    const q = new URLSearchParams(link!.split("?")[1]);
    expect(link!.startsWith("/logs?")).toBe(true);
    expect(q.get("query")).toBe('{namespace="db", pod="postgres-0", container="postgres"}');
    expect(q.get("from")).toBe("now-6h");
    expect(q.get("to")).toBe("now");
  });
});

describe("metrics for a pod", () => {
  it("opens CPU and memory queries for the pod, by container", () => {
    const [cpu, mem] = podQueries("api", "checkout-1");
    expect(cpu).toBe('sum by (container) (rate(container_cpu_usage_seconds_total{namespace="api", pod="checkout-1", container!=""}[5m]))');
    expect(mem).toBe('sum by (container) (container_memory_working_set_bytes{namespace="api", pod="checkout-1", container!=""})');
    const link = podMetricsLink({ namespace: "api", pod: "checkout-1", app: "x" }, "now-1h", "now")!;
    const q = new URLSearchParams(link.split("?")[1]);
    expect(link.startsWith("/metrics?")).toBe(true);
    expect(q.getAll("query")).toEqual([cpu, mem]);
    expect(q.get("from")).toBe("now-1h");
  });
  it("is absent without a pod", () => {
    expect(podMetricsLink({ namespace: "api", app: "x" }, "now-1h", "now")).toBeNull();
  });
});
