// Label names and values for autocomplete, read from the API for the editor's time range.
// Answers are kept briefly per (range, selector), a new look-up aborts the one before it
// (the user typed on), and a failed look-up gives nothing rather than an error.
import { labelNames, labelValues } from "../lib/api";

export interface LabelFetchers {
  names: (start: number, end: number, query?: string, signal?: AbortSignal) => Promise<string[]>;
  values: (name: string, start: number, end: number, query?: string, signal?: AbortSignal) => Promise<string[]>;
}

export interface LabelSource {
  /** Label names of the streams that `selector` matches (all streams without one); null on failure. */
  names(selector?: string): Promise<string[] | null>;
  /** Values of `name` among those streams; null on failure or when aborted by a newer look-up. */
  values(name: string, selector?: string): Promise<string[] | null>;
}

export interface LabelSourceOptions {
  /** How long an answer is reused (ms). */
  ttl?: number;
  /** The range's ends are rounded out to this (ms), so that a range that slides with "now"
   *  still hits the cache. */
  granularity?: number;
  now?: () => number;
  fetchers?: LabelFetchers;
}

const DEFAULT_RANGE_MS = 60 * 60 * 1000;

export function createLabelSource(
  range: () => { start: number; end: number } | undefined,
  opts: LabelSourceOptions = {},
): LabelSource {
  const ttl = opts.ttl ?? 30_000;
  const gran = opts.granularity ?? 10_000;
  const now = opts.now ?? Date.now;
  const fetchers = opts.fetchers ?? { names: labelNames, values: labelValues };
  const cache = new Map<string, { at: number; data: Promise<string[]> }>();
  let inflight: AbortController | null = null;

  const window = () => {
    const r = range() ?? { start: now() - DEFAULT_RANGE_MS, end: now() };
    return { start: Math.floor(r.start / gran) * gran, end: Math.ceil(r.end / gran) * gran };
  };

  async function lookup(key: string, get: (w: { start: number; end: number }, signal: AbortSignal) => Promise<string[]>) {
    const w = window();
    const full = `${w.start}|${w.end}|${key}`;
    const t = now();
    for (const [k, v] of cache) if (t - v.at > ttl) cache.delete(k);
    let hit = cache.get(full);
    if (!hit) {
      inflight?.abort();
      const ctl = new AbortController();
      inflight = ctl;
      hit = { at: t, data: get(w, ctl.signal) };
      cache.set(full, hit);
      // A failed or aborted look-up is not kept: the next keystroke asks again.
      hit.data.catch(() => cache.delete(full));
    }
    try {
      return await hit.data;
    } catch {
      return null;
    }
  }

  return {
    names: (selector) => lookup(`names|${selector ?? ""}`, (w, s) => fetchers.names(w.start, w.end, selector, s)),
    values: (name, selector) =>
      lookup(`values|${name}|${selector ?? ""}`, (w, s) => fetchers.values(name, w.start, w.end, selector, s)),
  };
}
