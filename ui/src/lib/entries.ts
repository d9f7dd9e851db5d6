// One log entry as the logs page holds it, flattened from Loki's streams response. Shared by
// the results table, the field list and the downloads.
import type { Labels, StreamResult } from "./api";
import { detectLevel, type Level } from "./level";

export interface LogEntry {
  /** Unique within a result set: stream key + nanosecond timestamp + index among equals. */
  id: string;
  tsNs: string; // nanoseconds since the epoch, as Loki sends them (exceeds 2^53)
  tsMs: number;
  line: string;
  stream: Labels; // the stream's labels (with categorize-labels: only the stored, unchanged ones)
  metadata: Labels; // structured metadata
  parsed: Labels; // labels extracted by parser stages
  level: Level;
}

export function streamKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",");
}

/** Flatten a streams result into entries, newest first (or oldest first when `forward`). */
export function flattenStreams(result: StreamResult[], forward = false): LogEntry[] {
  const out: LogEntry[] = [];
  for (const s of result) {
    const key = streamKey(s.stream);
    let prev = "";
    let dup = 0;
    for (const v of s.values) {
      const [tsNs, line, extra] = v as [string, string, Record<string, unknown> | undefined];
      let metadata: Labels = {};
      let parsed: Labels = {};
      if (extra && typeof extra === "object") {
        if ("structuredMetadata" in extra || "parsed" in extra) {
          metadata = (extra.structuredMetadata as Labels) ?? {};
          parsed = (extra.parsed as Labels) ?? {};
        } else {
          metadata = extra as Labels;
        }
      }
      dup = tsNs === prev ? dup + 1 : 0;
      prev = tsNs;
      const all = { ...s.stream, ...metadata, ...parsed };
      out.push({
        id: `${key}|${tsNs}|${dup}`,
        tsNs,
        tsMs: Number(BigInt(tsNs) / 1_000_000n),
        line,
        stream: s.stream,
        metadata,
        parsed,
        level: detectLevel(all, line),
      });
    }
  }
  const cmp = (a: LogEntry, b: LogEntry) => {
    const d = BigInt(a.tsNs) - BigInt(b.tsNs);
    return d === 0n ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : d < 0n ? -1 : 1;
  };
  out.sort((a, b) => (forward ? cmp(a, b) : cmp(b, a)));
  return out;
}
