// The loaded results as a file: NDJSON (one object per entry: timestamp in ns, stream labels,
// line, structured metadata, parsed labels) or the plain lines.
import type { LogEntry } from "../../lib/entries";

export function toNdjson(entries: LogEntry[]): string {
  return entries
    .map((e) => JSON.stringify({ timestamp: e.tsNs, labels: e.stream, line: e.line, metadata: e.metadata, parsed: e.parsed }))
    .map((l) => l + "\n")
    .join("");
}

export function toText(entries: LogEntry[]): string {
  return entries.map((e) => e.line + "\n").join("");
}

export function saveFile(name: string, type: string, body: string): void {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
