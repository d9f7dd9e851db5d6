// The field list's arithmetic: which parser a detected field filters with, its value in a
// loaded entry (parsed labels, metadata, or the line parsed as that parser would), and the top
// values with their share of the entries that have the field.
import type { LogEntry } from "../../lib/entries";
import type { FieldParser } from "../../lib/logql";
import { jsonFields, logfmtFields } from "./fields";

/** One field of /loki/api/v1/detected_fields. `parsers` is null for structured metadata. */
export interface DetectedField {
  label: string;
  type: string;
  cardinality: number;
  parsers: string[] | null;
}

/** The parser a filter on this field needs: json or logfmt, or none for structured metadata. */
export function fieldParser(f: DetectedField): FieldParser {
  const p = f.parsers ?? [];
  if (p.includes("json")) return "json";
  if (p.includes("logfmt")) return "logfmt";
  return "structured_metadata";
}

/** Lines parsed once per entry and parser, for the fields of one result set. */
export class LineCache {
  private json = new Map<string, Map<string, string> | null>();
  private logfmt = new Map<string, Map<string, string> | null>();

  fields(entry: LogEntry, parser: "json" | "logfmt"): Map<string, string> | null {
    const cache = parser === "json" ? this.json : this.logfmt;
    if (!cache.has(entry.id)) {
      const pairs = parser === "json" ? jsonFields(entry.line) : logfmtFields(entry.line);
      // The first value of a repeated key wins, as in Loki's parsers.
      const m = pairs ? new Map<string, string>() : null;
      if (pairs) for (const [k, v] of pairs) if (!m!.has(k)) m!.set(k, v);
      cache.set(entry.id, m);
    }
    return cache.get(entry.id) ?? null;
  }
}

/** The field's value in one entry, or undefined when the entry does not have it. */
export function fieldValue(entry: LogEntry, f: DetectedField, cache: LineCache): string | undefined {
  if (f.label in entry.parsed) return entry.parsed[f.label];
  if (f.label in entry.metadata) return entry.metadata[f.label];
  for (const p of f.parsers ?? []) {
    if (p !== "json" && p !== "logfmt") continue;
    const v = cache.fields(entry, p)?.get(f.label);
    if (v !== undefined) return v;
  }
  return undefined;
}

export interface ValueShare {
  value: string;
  count: number;
  share: number; // 0..1 of the entries that have the field
}

export interface FieldStats {
  top: ValueShare[];
  withField: number; // loaded entries that have the field
  distinct: number;
}

export function fieldStats(entries: LogEntry[], f: DetectedField, cache: LineCache, n = 5): FieldStats {
  const counts = new Map<string, number>();
  let withField = 0;
  for (const e of entries) {
    const v = fieldValue(e, f, cache);
    if (v === undefined) continue;
    withField++;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([value, count]) => ({ value, count, share: withField ? count / withField : 0 }));
  return { top, withField, distinct: counts.size };
}

/** A share as the list shows it: `42%`, `<1%`, `100%`. */
export function formatShare(share: number): string {
  if (share > 0 && share < 0.01) return "<1%";
  return `${Math.round(share * 100)}%`;
}
