// How a time range reads on the picker's button: "Last 15 minutes" for the presets and any
// `now-N<unit>` to `now`, the absolute times otherwise. Pure, so it is testable.
import { isRelative, parseTime, TimeError, type TimeRange } from "../../lib/time";

const UNIT_NAMES: Record<string, [string, string]> = {
  s: ["second", "seconds"],
  m: ["minute", "minutes"],
  h: ["hour", "hours"],
  d: ["day", "days"],
  w: ["week", "weeks"],
  y: ["year", "years"],
};

export interface Preset {
  from: string;
  label: string;
}

/** The picker's quick ranges, each from `now-N` to `now`. */
export const PRESETS: Preset[] = ["5m", "15m", "1h", "6h", "24h", "7d"].map((d) => ({
  from: `now-${d}`,
  label: relativeLabel(`now-${d}`) as string,
}));

/** "Last 15 minutes" for `now-15m` (to now); null for anything that is not `now-N<unit>`. */
export function relativeLabel(from: string): string | null {
  const m = /^now-(\d+)(s|m|h|d|w|y)$/.exec(from.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const [one, many] = UNIT_NAMES[m[2]];
  return `Last ${n} ${n === 1 ? one : many}`;
}

/** Epoch ms as the picker shows absolute times: `2026-12-03 12:00:00`, local time or UTC. */
export function formatAbsolute(ms: number, utc = false): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const parts = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const [y, mo, da, h, mi, s] = parts;
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}${utc ? " UTC" : ""}`;
}

function endpoint(text: string, utc: boolean): string {
  if (isRelative(text)) return text.trim();
  try {
    return formatAbsolute(parseTime(text), utc);
  } catch (e) {
    if (e instanceof TimeError) return text;
    throw e;
  }
}

/** The button's text for a range. */
export function rangeLabel(range: TimeRange, utc = false): string {
  if (range.to.trim() === "now") {
    const rel = relativeLabel(range.from);
    if (rel) return rel;
  }
  const from = endpoint(range.from, utc);
  const to = endpoint(range.to, utc);
  // Same day: the end's date is implied.
  if (!isRelative(range.from) && !isRelative(range.to) && from.slice(0, 11) === to.slice(0, 11)) {
    return `${from} to ${to.slice(11)}`;
  }
  return `${from} to ${to}`;
}

/** The error for one From/To input, or null when parseTime reads it. */
export function timeInputError(text: string): string | null {
  try {
    parseTime(text);
    return null;
  } catch (e) {
    if (e instanceof TimeError) return e.message;
    throw e;
  }
}

/** The error for the pair (each input's own first, then their order), or null. */
export function rangeInputError(from: string, to: string, nowMs: number = Date.now()): string | null {
  const f = timeInputError(from);
  if (f) return `From: ${f}`;
  const t = timeInputError(to);
  if (t) return `To: ${t}`;
  if (parseTime(from, nowMs) > parseTime(to, nowMs)) return "From is after To";
  return null;
}
