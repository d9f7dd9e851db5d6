import { describe, expect, it } from "vitest";
import { createLabelSource, type LabelFetchers } from "./labels";

function fakes() {
  const calls: { kind: string; start: number; end: number; query?: string; signal?: AbortSignal }[] = [];
  const pending: { resolve: (v: string[]) => void; reject: (e: unknown) => void }[] = [];
  const fetchers: LabelFetchers = {
    names: (start, end, query, signal) => {
      calls.push({ kind: "names", start, end, query, signal });
      return Promise.resolve(["app", "namespace"]);
    },
    values: (name, start, end, query, signal) => {
      calls.push({ kind: `values:${name}`, start, end, query, signal });
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    },
  };
  return { calls, pending, fetchers };
}

describe("createLabelSource", () => {
  it("asks once per range and selector while the answer is fresh", async () => {
    const f = fakes();
    let t = 1_000_000;
    let range = { start: 501_000, end: 1_001_000 };
    const src = createLabelSource(() => range, { fetchers: f.fetchers, now: () => t, ttl: 30_000 });
    expect(await src.names()).toEqual(["app", "namespace"]);
    range = { start: 503_000, end: 1_003_000 }; // slid by two seconds: same 10 s windows
    expect(await src.names()).toEqual(["app", "namespace"]);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]).toMatchObject({ start: 500_000, end: 1_010_000, query: undefined });
    await src.names('{app="x"}');
    expect(f.calls).toHaveLength(2);
    expect(f.calls[1].query).toBe('{app="x"}');
    t += 31_000; // stale: asked again
    await src.names();
    expect(f.calls).toHaveLength(3);
    range = { start: 0, end: 100_000 }; // another range
    await src.names();
    expect(f.calls).toHaveLength(4);
  });

  it("aborts the look-up before when a new one starts, and the aborted one gives null", async () => {
    const f = fakes();
    const src = createLabelSource(() => ({ start: 0, end: 60_000 }), { fetchers: f.fetchers });
    const first = src.values("app", '{namespace="a"}');
    const second = src.values("app", '{namespace="ab"}');
    expect(f.calls[0].signal?.aborted).toBe(true);
    expect(f.calls[1].signal?.aborted).toBe(false);
    f.pending[1].resolve(["checkout"]);
    expect(await first).toBeNull();
    expect(await second).toEqual(["checkout"]);
    // The aborted look-up is not cached: asking again goes to the API.
    const third = src.values("app", '{namespace="a"}');
    expect(f.calls).toHaveLength(3);
    f.pending[2].resolve(["payments"]);
    expect(await third).toEqual(["payments"]);
  });

  it("gives null when the API fails, and asks again next time", async () => {
    const f = fakes();
    const src = createLabelSource(() => ({ start: 0, end: 60_000 }), { fetchers: f.fetchers });
    const p = src.values("app");
    f.pending[0].reject(new Error("500 boom"));
    expect(await p).toBeNull();
    const again = src.values("app");
    expect(f.calls).toHaveLength(2);
    f.pending[1].resolve(["x"]);
    expect(await again).toEqual(["x"]);
  });

  it("uses the last hour when there is no range", async () => {
    const f = fakes();
    const src = createLabelSource(() => undefined, { fetchers: f.fetchers, now: () => 7_200_000 });
    await src.names();
    expect(f.calls[0]).toMatchObject({ start: 3_600_000, end: 7_200_000 });
  });
});
