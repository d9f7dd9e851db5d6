// "Load older" (or newer, when the results are oldest first): the next page is asked with its
// bound at the last shown timestamp, inclusive, so entries that share that nanosecond and were
// cut by the limit are not lost; the ones already shown come back too and are dropped here.
import { streamKey, type LogEntry } from "../../lib/entries";

/** The next request's bounds (ns, as strings): `end` for backward pages, `start` for forward. */
export function nextPageBounds(
  shown: LogEntry[],
  forward: boolean,
  range: { startNs: string; endNs: string },
): { startNs: string; endNs: string } | null {
  if (shown.length === 0) return null;
  const edge = shown[shown.length - 1].tsNs;
  // query_range reads start <= ts < end: one past the edge keeps the edge itself in a backward page.
  return forward ? { startNs: edge, endNs: range.endNs } : { startNs: range.startNs, endNs: `${BigInt(edge) + 1n}` };
}

const identity = (e: LogEntry) => `${streamKey(e.stream)}|${e.tsNs}|${e.line}`;

/**
 * Append a page to the shown entries, dropping the page's entries that are already shown (the
 * same stream, nanosecond and line, counted: two equal lines shown means two dropped). Kept
 * entries get ids that do not collide with the shown ones.
 */
export function appendPage(shown: LogEntry[], page: LogEntry[]): { entries: LogEntry[]; added: number } {
  if (shown.length === 0) return { entries: page, added: page.length };
  const edge = shown[shown.length - 1].tsNs;
  const counts = new Map<string, number>();
  for (let i = shown.length - 1; i >= 0 && shown[i].tsNs === edge; i--) {
    const k = identity(shown[i]);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const ids = new Set(shown.map((e) => e.id));
  const out = shown.slice();
  let added = 0;
  for (const e of page) {
    if (e.tsNs === edge) {
      const k = identity(e);
      const c = counts.get(k) ?? 0;
      if (c > 0) {
        counts.set(k, c - 1);
        continue;
      }
    }
    let id = e.id;
    for (let n = 1; ids.has(id); n++) id = `${e.id}~${n}`;
    ids.add(id);
    out.push(id === e.id ? e : { ...e, id });
    added++;
  }
  return { entries: out, added };
}
