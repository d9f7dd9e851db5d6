import { CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { EditorState } from "@codemirror/state";
import { afterEach, describe, expect, it, vi } from "vitest";
import { promErrorPosition } from "../lib/api";
import { errorSpan } from "./errorMark";
import { promql } from "./promql";

// What Heron's Prometheus API answers (recorded shapes: Prometheus' documented responses).
const ANSWERS: Record<string, unknown> = {
  "/api/v1/label/__name__/values": ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "up"],
  "/api/v1/metadata": {
    container_cpu_usage_seconds_total: [{ type: "counter", help: "Cumulative cpu time consumed", unit: "" }],
  },
  "/api/v1/series": [
    { __name__: "up", job: "heron", instance: "127.0.0.1:9500" },
    { __name__: "up", job: "kubelet", instance: "node-a:10250" },
  ],
  "/api/v1/labels": ["__name__", "instance", "job"],
  "/api/v1/label/job/values": ["heron", "kubelet"],
};

function stubApi() {
  const calls: string[] = [];
  vi.stubGlobal("fetch", async (input: string) => {
    const url = new URL(input, "http://heron.test");
    calls.push(`${url.pathname}?${url.searchParams}`);
    const data = ANSWERS[url.pathname];
    if (data === undefined) return new Response("not found", { status: 404, statusText: "Not Found" });
    return new Response(JSON.stringify({ status: "success", data }), { headers: { "Content-Type": "application/json" } });
  });
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

async function complete(marked: string): Promise<CompletionResult | null> {
  const pos = marked.indexOf("¦");
  const doc = marked.slice(0, pos) + marked.slice(pos + 1);
  const lang = promql();
  const state = EditorState.create({ doc, extensions: [lang.support] });
  return lang.completion(new CompletionContext(state, pos, true));
}

const labels = (r: CompletionResult | null) => r?.options.map((o) => o.label) ?? [];

describe("PromQL completion from the API", () => {
  it("offers metric names from /api/v1/label/__name__/values", async () => {
    const calls = stubApi();
    const got = labels(await complete("contai¦"));
    expect(got).toContain("container_cpu_usage_seconds_total");
    expect(got).toContain("container_memory_working_set_bytes");
    // Functions and aggregations come from Prometheus' own lists.
    expect(labels(await complete("su¦"))).toContain("sum");
    const names = calls.find((c) => c.startsWith("/api/v1/label/__name__/values"));
    expect(names).toBeDefined();
    // Over the last 12 hours, as Prometheus' own UI asks.
    const q = new URLSearchParams(names!.split("?")[1]);
    expect(Date.parse(q.get("end")!) - Date.parse(q.get("start")!)).toBe(12 * 3_600_000);
  });

  it("offers a metric's label names (/api/v1/labels) and values (/label/<name>/values)", async () => {
    const calls = stubApi();
    expect(labels(await complete("up{¦}"))).toEqual(expect.arrayContaining(["instance", "job"]));
    expect(labels(await complete('up{job="¦"}'))).toEqual(expect.arrayContaining(["heron", "kubelet"]));
    expect(calls.some((c) => c.startsWith("/api/v1/labels?") && c.includes("match%5B%5D=up"))).toBe(true);
    expect(calls.some((c) => c.startsWith("/api/v1/label/job/values?") && c.includes("match%5B%5D=up"))).toBe(true);
  });

  it("gives no options, and no error, when the API fails", async () => {
    vi.stubGlobal("fetch", async () => new Response("down", { status: 500, statusText: "Internal Server Error" }));
    const r = await complete("contai¦");
    expect(labels(r)).not.toContain("container_cpu_usage_seconds_total");
  });
});

describe("Prometheus parse errors", () => {
  it("reads the line and column the API's message starts with", () => {
    const msg = 'invalid parameter "query": 1:14: parse error: unexpected identifier "by"';
    expect(promErrorPosition(msg)).toEqual({ line: 1, col: 14 });
    expect(promErrorPosition("2:3: parse error: unclosed left parenthesis")).toEqual({ line: 2, col: 3 });
    expect(promErrorPosition("query timed out in expression evaluation")).toBeNull();
  });
  it("marks the token at that position", () => {
    const q = "sum(rate(up[5m] by (job)";
    const at = promErrorPosition('1:17: parse error: unexpected "by"')!;
    const span = errorSpan(q, at.line, at.col)!;
    expect(q.slice(span.from, span.to)).toBe("by");
  });
});
