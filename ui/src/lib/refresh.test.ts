import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { visibleInterval, type Visibility } from "./refresh";

class FakeDocument implements Visibility {
  visibilityState: DocumentVisibilityState = "visible";
  private listeners = new Set<() => void>();
  addEventListener(_type: "visibilitychange", l: () => void): void {
    this.listeners.add(l);
  }
  removeEventListener(_type: "visibilitychange", l: () => void): void {
    this.listeners.delete(l);
  }
  show(state: DocumentVisibilityState): void {
    this.visibilityState = state;
    for (const l of this.listeners) l();
  }
  get listening(): number {
    return this.listeners.size;
  }
}

describe("visibleInterval", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("refreshes every period while visible, and not at the start", () => {
    const doc = new FakeDocument();
    const refresh = vi.fn();
    visibleInterval(refresh, 10_000, doc);
    expect(refresh).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30_500);
    expect(refresh).toHaveBeenCalledTimes(3);
  });

  it("asks nothing while hidden and catches up once when shown", () => {
    const doc = new FakeDocument();
    const refresh = vi.fn();
    visibleInterval(refresh, 10_000, doc);
    doc.show("hidden");
    vi.advanceTimersByTime(35_000);
    expect(refresh).not.toHaveBeenCalled();
    doc.show("visible");
    expect(refresh).toHaveBeenCalledTimes(1);
    doc.show("visible"); // a second change event with nothing skipped asks nothing more
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it("does not catch up when the tab was hidden for less than a period", () => {
    const doc = new FakeDocument();
    const refresh = vi.fn();
    visibleInterval(refresh, 10_000, doc);
    doc.show("hidden");
    vi.advanceTimersByTime(5_000);
    doc.show("visible");
    expect(refresh).not.toHaveBeenCalled();
  });

  it("stops its timer and its listener", () => {
    const doc = new FakeDocument();
    const refresh = vi.fn();
    const stop = visibleInterval(refresh, 10_000, doc);
    expect(doc.listening).toBe(1);
    stop();
    expect(doc.listening).toBe(0);
    vi.advanceTimersByTime(50_000);
    expect(refresh).not.toHaveBeenCalled();
  });
});
