// The explorer's URL is its state: `query` once per row (in order), the shared `from`/`to`
// and `step`, the auto-refresh, and per-row view choices as row indexes (`table=1` puts row 1
// on its Table tab, `stacked=0,2` stacks rows 0 and 2). Reading is forgiving (a bad index is
// ignored); writing leaves out every default, so shared links stay short.

export const DEFAULT_FROM = "now-1h";
export const DEFAULT_TO = "now";

export interface MetricsState {
  queries: string[];
  from: string;
  to: string;
  step: string; // "" = chosen from the chart's width
  refresh: string; // "" = off
  table: number[]; // rows on the Table tab, ascending
  stacked: number[]; // rows whose graph is stacked, ascending
}

function indexes(text: string | null, rows: number): number[] {
  if (!text) return [];
  const out = new Set<number>();
  for (const part of text.split(",")) {
    if (!/^\d+$/.test(part.trim())) continue;
    const i = Number(part);
    if (i < rows) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

export function readState(params: URLSearchParams): MetricsState {
  const queries = params.getAll("query");
  return {
    queries,
    from: params.get("from") || DEFAULT_FROM,
    to: params.get("to") || DEFAULT_TO,
    step: params.get("step") ?? "",
    refresh: params.get("refresh") ?? "",
    table: indexes(params.get("table"), queries.length),
    stacked: indexes(params.get("stacked"), queries.length),
  };
}

export function stateHref(s: MetricsState): string {
  const q = new URLSearchParams();
  for (const query of s.queries) q.append("query", query);
  if (s.from !== DEFAULT_FROM) q.set("from", s.from);
  if (s.to !== DEFAULT_TO) q.set("to", s.to);
  if (s.step) q.set("step", s.step);
  if (s.refresh) q.set("refresh", s.refresh);
  if (s.table.length) q.set("table", s.table.join(","));
  if (s.stacked.length) q.set("stacked", s.stacked.join(","));
  const text = q.toString();
  return text ? `/metrics?${text}` : "/metrics";
}

/** Row `i` taken out: the rows after it move up, and so do their view choices. */
export function removeRow(s: MetricsState, i: number): MetricsState {
  const shift = (xs: number[]) => xs.filter((x) => x !== i).map((x) => (x > i ? x - 1 : x));
  return { ...s, queries: s.queries.filter((_, j) => j !== i), table: shift(s.table), stacked: shift(s.stacked) };
}

/**
 * The drafts (the editors' texts) made the state's queries, as Run does: empty rows go, and
 * the view choices of the rows that stay follow them.
 */
export function commitDrafts(s: MetricsState, drafts: string[]): MetricsState {
  const kept: number[] = [];
  drafts.forEach((d, i) => d.trim() !== "" && kept.push(i));
  const remap = (xs: number[]) => xs.filter((x) => kept.includes(x)).map((x) => kept.indexOf(x));
  return { ...s, queries: kept.map((i) => drafts[i].trim()), table: remap(s.table), stacked: remap(s.stacked) };
}

/** Row `i`'s choice in one of the index lists switched on or off. */
export function setRowFlag(xs: number[], i: number, on: boolean): number[] {
  const rest = xs.filter((x) => x !== i);
  return on ? [...rest, i].sort((a, b) => a - b) : rest;
}

/** The auto-refresh choices' periods (the picker's values). */
export function refreshPeriod(refresh: string): number | null {
  const m = /^(\d+)(s|m)$/.exec(refresh);
  if (!m) return null;
  return Number(m[1]) * (m[2] === "m" ? 60_000 : 1000);
}
