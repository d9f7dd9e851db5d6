// The logs page's view as the URL holds it (short names, defaults left out of shared links).
import { TimeError } from "../../lib/time";

export interface View {
  query: string;
  from: string;
  to: string;
  forward: boolean; // order=forward: oldest first
  utc: boolean; // utc=1
  wrap: boolean; // wrap=1
  stripAnsi: boolean; // ansi=strip
  refresh: string; // refresh=10s, "" for off
}

export const DEFAULT_FROM = "now-1h";
export const DEFAULT_TO = "now";

export function readView(params: URLSearchParams): View {
  return {
    query: params.get("query") ?? "",
    from: params.get("from") || DEFAULT_FROM,
    to: params.get("to") || DEFAULT_TO,
    forward: params.get("order") === "forward",
    utc: params.get("utc") === "1",
    wrap: params.get("wrap") === "1",
    stripAnsi: params.get("ansi") === "strip",
    refresh: params.get("refresh") ?? "",
  };
}

/** An auto-refresh interval (`5s`, `1m`, `1h`) in ms; null for off; TimeError for nonsense. */
export function refreshMs(text: string): number | null {
  const t = text.trim();
  if (t === "" || t === "off") return null;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(t);
  if (!m) throw new TimeError(`not a refresh interval: "${text}" (use 10s, 1m or 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  const ms = Number(m[1]) * unit;
  if (ms < 1000) throw new TimeError(`refresh interval too short: "${text}" (at least 1s)`);
  return ms;
}
