// The fields of a log line as Loki's `| json` and `| logfmt` would extract them, parsed in the
// browser for the expanded row: JSON objects flattened with `_` (arrays left out, as Loki
// does), logfmt `key=value` pairs; names sanitized as Loki sanitizes label names.

export type LineFormat = "json" | "logfmt";

export interface LineFields {
  format: LineFormat;
  fields: [string, string][];
}

/** A label name as Loki makes it from a key: invalid characters become `_`, no leading digit. */
export function sanitizeKey(key: string): string {
  const k = key.trim().replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(k) ? `_${k}` : k;
}

function flatten(prefix: string, value: unknown, out: [string, string][]): void {
  if (value === null || value === undefined || Array.isArray(value)) return;
  if (typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      flatten(prefix ? `${prefix}_${sanitizeKey(k)}` : sanitizeKey(k), v, out);
    }
    return;
  }
  if (prefix === "") return;
  out.push([prefix, String(value)]);
}

export function jsonFields(line: string): [string, string][] | null {
  const t = line.trim();
  if (!t.startsWith("{")) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(t);
  } catch {
    return null;
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return null;
  const out: [string, string][] = [];
  flatten("", obj, out);
  return out;
}

/** logfmt pairs (`a=1 b="two words" c=`); null when the line has no `key=value` pair at all. */
export function logfmtFields(line: string): [string, string][] | null {
  const out: [string, string][] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && line[i] <= " ") i++;
    const ks = i;
    while (i < n && line[i] > " " && line[i] !== "=" && line[i] !== '"') i++;
    const key = line.slice(ks, i);
    if (i < n && line[i] === "=") {
      i++;
      let value = "";
      if (line[i] === '"') {
        i++;
        let buf = "";
        while (i < n && line[i] !== '"') {
          if (line[i] === "\\" && i + 1 < n) {
            const c = line[i + 1];
            buf += c === "n" ? "\n" : c === "t" ? "\t" : c === "r" ? "\r" : c;
            i += 2;
          } else buf += line[i++];
        }
        i++; // closing quote
        value = buf;
      } else {
        const vs = i;
        while (i < n && line[i] > " ") i++;
        value = line.slice(vs, i);
      }
      if (key !== "") out.push([sanitizeKey(key), value]);
    } else if (key === "") {
      i++; // a stray quote: skip it
    }
  }
  return out.length > 0 ? out : null;
}

/**
 * The line's fields, JSON first, then logfmt. A name that is already a stream label or a
 * structured metadata name gets `_extracted` appended, as Loki's parsers do.
 */
export function lineFields(line: string, taken: Set<string> = new Set()): LineFields | null {
  const json = jsonFields(line);
  const found: LineFields | null = json
    ? { format: "json", fields: json }
    : (() => {
        const lf = logfmtFields(line);
        return lf ? { format: "logfmt" as const, fields: lf } : null;
      })();
  if (!found) return null;
  const seen = new Set<string>();
  const fields: [string, string][] = [];
  for (const [k, v] of found.fields) {
    const name = taken.has(k) ? `${k}_extracted` : k;
    if (seen.has(name)) continue; // the first wins, as in Loki
    seen.add(name);
    fields.push([name, v]);
  }
  return { format: found.format, fields };
}
