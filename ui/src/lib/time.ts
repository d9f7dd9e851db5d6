// Time expressions as Grafana writes them in URLs: `now`, `now-15m`, `now-1d/d`, RFC 3339,
// or Unix seconds or milliseconds. Parsing is pure (the clock is passed in) so it is testable.

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 365 * 86_400_000,
};

const RELATIVE = /^now(?:([+-])(\d+)(s|m|h|d|w|y))?(?:\/(s|m|h|d|w|y))?$/;

export class TimeError extends Error {}

/** Parse a time expression to epoch milliseconds; throws TimeError with a readable message. */
export function parseTime(text: string, nowMs: number = Date.now()): number {
  const t = text.trim();
  if (t === "") throw new TimeError("empty time");
  const rel = RELATIVE.exec(t);
  if (rel) {
    let ms = nowMs;
    if (rel[1]) ms += (rel[1] === "-" ? -1 : 1) * Number(rel[2]) * UNIT_MS[rel[3]];
    if (rel[4]) ms = roundDown(ms, rel[4]);
    return ms;
  }
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    // Grafana's rule of thumb: 13 digits and more are milliseconds, fewer are seconds.
    return t.split(".")[0].length >= 13 ? Math.floor(n) : Math.round(n * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new TimeError(`not a time: "${text}" (use now, now-15m, RFC 3339 or Unix seconds)`);
}

function roundDown(ms: number, unit: string): number {
  const d = new Date(ms);
  switch (unit) {
    case "s":
      d.setMilliseconds(0);
      break;
    case "m":
      d.setSeconds(0, 0);
      break;
    case "h":
      d.setMinutes(0, 0, 0);
      break;
    case "d":
      d.setHours(0, 0, 0, 0);
      break;
    case "w":
      d.setHours(0, 0, 0, 0);
      d.setDate(d.getDate() - d.getDay());
      break;
    case "y":
      d.setMonth(0, 1);
      d.setHours(0, 0, 0, 0);
      break;
  }
  return d.getTime();
}

/** True when the expression moves with the clock (so refresh re-evaluates it). */
export function isRelative(text: string): boolean {
  return text.trim().startsWith("now");
}

/** A time range as the URL holds it, and as epoch milliseconds at one instant. */
export interface TimeRange {
  from: string;
  to: string;
}

export function resolveRange(range: TimeRange, nowMs: number = Date.now()): { start: number; end: number } {
  const start = parseTime(range.from, nowMs);
  const end = parseTime(range.to, nowMs);
  if (start > end) throw new TimeError("the start of the range is after its end");
  return { start, end };
}

/** Format epoch ms for display, local time or UTC, with milliseconds (log lines need them). */
export function formatTimestamp(ms: number, utc: boolean): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const [y, mo, da, h, mi, s, milli] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}.${pad(milli, 3)}${utc ? "Z" : ""}`;
}

/** RFC 3339 in UTC, seconds precision: what the absolute-range inputs write into the URL. */
export function toRfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** A step for range queries: about `points` buckets over the range, rounded to a readable unit. */
export function pickStep(startMs: number, endMs: number, points = 120): number {
  const raw = Math.max(1000, (endMs - startMs) / points);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);
  return steps.find((s) => s >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
}

/** A step as LogQL/Prometheus write durations (`30s`, `5m`, `1h`). */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
