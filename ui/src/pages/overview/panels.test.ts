import { describe, expect, it } from "vitest";
import { CPU_BY_NAMESPACE, ERROR_LOG_RATE, panelLink, restartsQuery } from "./panels";

const params = (link: string) => new URLSearchParams(link.split("?")[1]);

describe("overview panel links", () => {
  it("open the metrics explorer with the panel's query and the overview's range", () => {
    const link = panelLink(CPU_BY_NAMESPACE, "promql", "6h");
    expect(link.startsWith("/metrics?")).toBe(true);
    expect(params(link).getAll("query")).toEqual([CPU_BY_NAMESPACE]);
    expect(params(link).get("from")).toBe("now-6h");
    expect(params(link).get("table")).toBeNull();
  });
  it("open instant panels on the explorer's Table tab", () => {
    expect(params(panelLink("up == 0", "promql", "1h", true)).get("table")).toBe("0");
  });
  it("open LogQL panels in the logs explorer", () => {
    const link = panelLink(ERROR_LOG_RATE, "logql", "24h");
    expect(link.startsWith("/logs?")).toBe(true);
    expect(params(link).get("query")).toBe(ERROR_LOG_RATE);
    expect(params(link).get("from")).toBe("now-24h");
  });
});

describe("restarts", () => {
  it("count start-time changes of real containers over the overview's range", () => {
    expect(restartsQuery("6h")).toBe(
      'sum by (namespace, pod, container) (changes(container_start_time_seconds{container!=""}[6h])) > 0',
    );
  });
});
