import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LogEntry } from "../../lib/entries";
import { backoffDelay, LiveTail, mergeTail, tailUrl, type TailState } from "./tail";

describe("backoffDelay", () => {
  it("doubles from 1 s up to 30 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map(backoffDelay)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
});

describe("mergeTail", () => {
  const e = (id: string) => ({ id }) as LogEntry;
  it("puts new entries on top and counts what falls off", () => {
    const r = mergeTail([e("b"), e("a")], [e("d"), e("c")], 3);
    expect(r.entries.map((x) => x.id)).toEqual(["d", "c", "b"]);
    expect(r.dropped).toBe(1);
  });
});

describe("tailUrl", () => {
  it("uses wss for https pages", () => {
    expect(tailUrl({ protocol: "https:", host: "h:1" }, '{a="b"}', "5")).toBe(
      "wss://h:1/loki/api/v1/tail?query=%7Ba%3D%22b%22%7D&start=5&limit=100",
    );
    expect(tailUrl({ protocol: "http:", host: "h" }, "{}", "5").startsWith("ws://h/")).toBe(true);
  });
});

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
  send(ts: string, line: string, dropped: unknown = null) {
    this.onmessage?.({ data: JSON.stringify({ streams: [{ stream: { app: "x" }, values: [[ts, line]] }], dropped_entries: dropped }) });
  }
}

describe("LiveTail", () => {
  let states: [TailState, string | undefined][];
  let got: LogEntry[];
  let serverDropped: number;
  let tail: LiveTail;
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    states = [];
    got = [];
    serverDropped = 0;
    tail = new LiveTail({
      query: '{app="x"}',
      startNs: "100",
      onEntries: (es) => got.push(...es),
      onServerDropped: (n) => (serverDropped += n),
      onState: (s, d) => states.push([s, d]),
      location: { protocol: "http:", host: "h" },
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    });
  });
  afterEach(() => vi.useRealTimers());

  it("reconnects with backoff from the newest entry and does not repeat it", () => {
    tail.start();
    const s1 = FakeSocket.all[0];
    s1.onopen?.();
    s1.send("200", "one");
    expect(states.map((s) => s[0])).toEqual(["connecting", "live"]);
    s1.onclose?.({ code: 1006, reason: "" });
    expect(states[states.length - 1]).toEqual(["reconnecting", "retrying in 1 s"]);
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    const s2 = FakeSocket.all[1];
    expect(s2.url).toContain("start=200");
    s2.onclose?.({ code: 1006, reason: "" }); // fails again before any message: 2 s next
    vi.advanceTimersByTime(1999);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    const s3 = FakeSocket.all[2];
    s3.onopen?.();
    s3.send("200", "one"); // the resume repeats the newest entry
    s3.send("200", "two"); // a new entry in the same nanosecond
    s3.send("300", "three", [{ labels: {}, timestamp: "250" }]);
    expect(got.map((e) => e.line)).toEqual(["one", "two", "three"]);
    expect(new Set(got.map((e) => e.id)).size).toBe(3);
    expect(serverDropped).toBe(1);
  });

  it("gives up on a refused query (1008) and stops cleanly", () => {
    tail.start();
    FakeSocket.all[0].onclose?.({ code: 1008, reason: "parse error" });
    expect(states[states.length - 1]).toEqual(["failed", "parse error"]);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("stop closes the socket and cancels a pending reconnect", () => {
    tail.start();
    FakeSocket.all[0].onclose?.({ code: 1012, reason: "shutting down" });
    expect(states[states.length - 1][1]).toBe("shutting down; retrying in 1 s");
    tail.stop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(states[states.length - 1][0]).toBe("stopped");
  });
});
