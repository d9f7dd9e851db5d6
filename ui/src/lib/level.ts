// A log entry's level, for the results table's level column and colour. The server already
// adds `detected_level` at ingest (Loki 3's rule), so that wins; otherwise the stream's or the
// entry's own level label, and last the line itself (JSON or logfmt `level`, then a keyword).

export type Level = "critical" | "error" | "warn" | "info" | "debug" | "trace" | "unknown";

export const LEVELS: Level[] = ["critical", "error", "warn", "info", "debug", "trace", "unknown"];

const LABEL_KEYS = ["detected_level", "level", "lvl", "severity", "loglevel", "log_level"];

const WORDS: Record<string, Level> = {
  critical: "critical",
  crit: "critical",
  fatal: "critical",
  panic: "critical",
  emerg: "critical",
  emergency: "critical",
  alert: "critical",
  error: "error",
  err: "error",
  eror: "error",
  warn: "warn",
  warning: "warn",
  wrn: "warn",
  info: "info",
  inf: "info",
  information: "info",
  notice: "info",
  informational: "info",
  debug: "debug",
  dbug: "debug",
  dbg: "debug",
  trace: "trace",
  trc: "trace",
};

/** Canonical level for a level word (`ERROR`, `Warning`, `E`-style single letters excluded). */
export function normalizeLevel(word: string | undefined): Level | null {
  if (!word) return null;
  return WORDS[word.trim().toLowerCase()] ?? null;
}

const FIELD = /(?:^|[\s{,])"?(?:level|lvl|severity|loglevel)"?\s*[=:]\s*"?([A-Za-z]+)/i;
const KEYWORD = /\b(CRITICAL|FATAL|PANIC|ERROR|ERR|WARN|WARNING|INFO|DEBUG|TRACE)\b/i;

/** The level of one entry, from its labels (stream, metadata, parsed) and then its line. */
export function detectLevel(labels: Record<string, string>, line: string): Level {
  for (const key of LABEL_KEYS) {
    const v = normalizeLevel(labels[key]);
    if (v) return v;
  }
  const head = line.length > 2048 ? line.slice(0, 2048) : line;
  const field = FIELD.exec(head);
  if (field) {
    const v = normalizeLevel(field[1]);
    if (v) return v;
  }
  const kw = KEYWORD.exec(head);
  return (kw && normalizeLevel(kw[1])) || "unknown";
}
