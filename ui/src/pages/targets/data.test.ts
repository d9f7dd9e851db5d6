import { describe, expect, it } from "vitest";
import {
  formatAgo,
  formatScrapeDuration,
  groupPools,
  matchesDropped,
  matchesTarget,
  parseHealth,
  podLogsLink,
  scrapeTime,
  searchWords,
  sortedLabels,
  type ActiveTarget,
} from "./data";

function target(pool: string, url: string, health: ActiveTarget["health"], labels: Record<string, string> = {}): ActiveTarget {
  return {
    discoveredLabels: { __address__: new URL(url).host },
    labels: { job: pool, instance: new URL(url).host, ...labels },
    scrapePool: pool,
    scrapeUrl: url,
    globalUrl: url,
    lastError: health === "down" ? "connection refused" : "",
    lastScrape: "2026-12-03T14:00:00Z",
    lastScrapeDuration: 0.01,
    health,
    scrapeInterval: "15s",
    scrapeTimeout: "10s",
  };
}

const TARGETS = [
  target("node", "http://10.0.0.2:9100/metrics", "up"),
  target("pods", "http://10.1.0.9:8080/metrics", "down", { namespace: "web", pod: "frontend-1" }),
  target("node", "http://10.0.0.1:9100/metrics", "down"),
  target("pods", "http://10.1.0.8:8080/metrics", "up", { namespace: "api", pod: "orders-1" }),
  target("pods", "http://10.1.0.7:8080/metrics", "unknown", { namespace: "api", pod: "users-1" }),
];

describe("parseHealth", () => {
  it("reads the four filters in any case and reports anything else", () => {
    expect(parseHealth(null)).toEqual({ filter: "all" });
    expect(parseHealth("")).toEqual({ filter: "all" });
    expect(parseHealth("DOWN")).toEqual({ filter: "down" });
    expect(parseHealth("unknown")).toEqual({ filter: "unknown" });
    expect(parseHealth("sick")).toEqual({ filter: "all", invalid: "sick" });
  });
});

describe("search", () => {
  const t = TARGETS[1];
  it("matches key=value substrings with or without the quote, and URLs", () => {
    expect(matchesTarget(t, searchWords("pod=front"))).toBe(true);
    expect(matchesTarget(t, searchWords('pod="front'))).toBe(true);
    expect(matchesTarget(t, searchWords("NAMESPACE=WEB"))).toBe(true);
    expect(matchesTarget(t, searchWords(":8080/metrics"))).toBe(true);
    expect(matchesTarget(t, searchWords("web"))).toBe(true); // a value alone is a substring too
  });
  it("needs every word, and a key=value pair within one label", () => {
    expect(matchesTarget(t, searchWords("namespace=web 10.1.0.9"))).toBe(true);
    expect(matchesTarget(t, searchWords("namespace=web 10.1.0.8"))).toBe(false);
    expect(matchesTarget(t, searchWords("namespace=frontend"))).toBe(false);
  });
  it("an empty search matches everything", () => {
    expect(searchWords("   ")).toEqual([]);
    expect(matchesTarget(t, [])).toBe(true);
  });
  it("searches a dropped target's discovered labels", () => {
    const d = { discoveredLabels: { __address__: "10.9.9.9:80", __meta_kubernetes_pod_name: "db-0" } };
    expect(matchesDropped(d, searchWords("pod_name=db"))).toBe(true);
    expect(matchesDropped(d, searchWords("pod_name=web"))).toBe(false);
  });
});

describe("groupPools", () => {
  it("groups by pool in name order with up/total over all targets, failing rows first, then by URL", () => {
    const pools = groupPools(TARGETS, "all", []);
    expect(pools.map((p) => [p.name, p.up, p.total])).toEqual([
      ["node", 1, 2],
      ["pods", 1, 3],
    ]);
    expect(pools[0].shown.map((t) => t.scrapeUrl)).toEqual(["http://10.0.0.1:9100/metrics", "http://10.0.0.2:9100/metrics"]);
    expect(pools[1].shown.map((t) => [t.health, t.scrapeUrl])).toEqual([
      ["down", "http://10.1.0.9:8080/metrics"],
      ["unknown", "http://10.1.0.7:8080/metrics"],
      ["up", "http://10.1.0.8:8080/metrics"],
    ]);
    const ups = [target("a", "http://10.0.0.9:1/m", "up"), target("a", "http://10.0.0.1:1/m", "up")];
    expect(groupPools(ups, "all", [])[0].shown.map((t) => t.scrapeUrl)).toEqual(["http://10.0.0.1:1/m", "http://10.0.0.9:1/m"]);
  });
  it("filters by health and search, keeps the pool's counts, and leaves out emptied pools", () => {
    const down = groupPools(TARGETS, "down", []);
    expect(down.map((p) => [p.name, p.shown.length, p.up, p.total])).toEqual([
      ["node", 1, 1, 2],
      ["pods", 1, 1, 3],
    ]);
    const api = groupPools(TARGETS, "all", searchWords("namespace=api"));
    expect(api.map((p) => p.name)).toEqual(["pods"]);
    expect(api[0].shown.map((t) => t.labels.pod)).toEqual(["users-1", "orders-1"]);
    expect(groupPools(TARGETS, "unknown", searchWords("node"))).toEqual([]);
  });
});

describe("labels and links", () => {
  it("puts job and instance first, the rest by name", () => {
    expect(sortedLabels({ pod: "p", instance: "i", container: "c", job: "j" }).map(([k]) => k)).toEqual([
      "job",
      "instance",
      "container",
      "pod",
    ]);
  });
  it("links a pod's target to its logs, escaping quotes; none without both labels", () => {
    expect(podLogsLink({ namespace: "web", pod: "frontend-1" })).toBe(
      "/logs?query=" + encodeURIComponent('{namespace="web", pod="frontend-1"}').replace(/%20/g, "+"),
    );
    const odd = podLogsLink({ namespace: 'we"b', pod: "p" });
    expect(new URLSearchParams(odd!.split("?")[1]).get("query")).toBe('{namespace="we\\"b", pod="p"}');
    expect(podLogsLink({ namespace: "web" })).toBeNull();
    expect(podLogsLink({ pod: "p" })).toBeNull();
  });
});

describe("times", () => {
  it("treats Go's zero time and garbage as never scraped", () => {
    expect(scrapeTime("0001-01-01T00:00:00Z")).toBeNull();
    expect(scrapeTime("not a time")).toBeNull();
    expect(scrapeTime("2026-12-03T14:00:00.5Z")).toBe(Date.UTC(2026, 11, 3, 14, 0, 0, 500));
  });
  it("says how long ago in two units at most", () => {
    const now = Date.UTC(2026, 11, 3, 14, 0, 0);
    expect(formatAgo(now - 400, now)).toBe("just now");
    expect(formatAgo(now - 12_000, now)).toBe("12s ago");
    expect(formatAgo(now - 185_000, now)).toBe("3m 5s ago");
    expect(formatAgo(now - 7_260_000, now)).toBe("2h 1m ago");
    expect(formatAgo(now - 7_205_000, now)).toBe("2h ago");
  });
  it("formats scrape durations", () => {
    expect(formatScrapeDuration(0.00085)).toBe("850µs");
    expect(formatScrapeDuration(0.0123)).toBe("12.3ms");
    expect(formatScrapeDuration(0.25)).toBe("250ms");
    expect(formatScrapeDuration(1.523)).toBe("1.52s");
    expect(formatScrapeDuration(-1)).toBe("—");
  });
});
