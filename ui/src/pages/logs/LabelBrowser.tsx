// The label browser: the stream label names for the range, each expandable to its values with
// their log volume (bytes, from /loki/api/v1/index/volume: the index answers without reading
// a line). A click on a value adds `name="value"` to the query; alt-click or "−" excludes it.
import { useEffect, useState } from "preact/hooks";
import { getJSON, labelNames, msToNs, type QueryResponse } from "../../lib/api";
import { formatBytes } from "../../components/chart";
import { quote } from "../../lib/logql";
import { ErrorNote, FilterBox, LoadingNote } from "./SideParts";
import "./LabelBrowser.css";

export interface LabelBrowserProps {
  start: number;
  end: number;
  query: string;
  onPick(name: string, value: string, negate: boolean): void;
}

export const VALUES_LIMIT = 1000;

type Load<T> = { state: "loading" } | { state: "error"; message: string } | { state: "ok"; value: T };

export interface LabelValue {
  value: string;
  bytes: number;
}

/** The values of one label with their bytes in the range, largest first. */
export async function labelVolumes(name: string, start: number, end: number, signal?: AbortSignal): Promise<LabelValue[]> {
  const r = await getJSON<QueryResponse>(
    "/loki/api/v1/index/volume",
    {
      query: `{${name}=~${quote(".+")}}`,
      targetLabels: name,
      start: msToNs(start),
      end: msToNs(end),
      limit: VALUES_LIMIT,
    },
    signal,
  );
  if (r.data.resultType !== "vector") throw new Error(`unexpected ${r.data.resultType} result`);
  return r.data.result
    .map((v) => ({ value: v.metric[name] ?? "", bytes: Number(v.value[1]) }))
    .filter((v) => v.value !== "")
    .sort((a, b) => b.bytes - a.bytes || a.value.localeCompare(b.value));
}

/** Label names a person picks from: not the internal ones (`__name__`, `__stream_shard__`). */
export function visibleLabels(names: string[]): string[] {
  return names.filter((n) => !n.startsWith("__")).sort((a, b) => a.localeCompare(b));
}

function LabelValues({ name, start, end, onPick }: { name: string; start: number; end: number; onPick: LabelBrowserProps["onPick"] }) {
  const [values, setValues] = useState<Load<LabelValue[]>>({ state: "loading" });
  const [filter, setFilter] = useState("");
  useEffect(() => {
    const ctl = new AbortController();
    labelVolumes(name, start, end, ctl.signal)
      .then((value) => setValues({ state: "ok", value }))
      .catch((e: Error) => !ctl.signal.aborted && setValues({ state: "error", message: e.message }));
    return () => ctl.abort();
  }, [name, start, end]);

  if (values.state === "loading")
    return (
      <LoadingNote what="values" />
    );
  if (values.state === "error")
    return (
      <ErrorNote what={`values of ${name}`} message={values.message} />
    );
  const needle = filter.trim().toLowerCase();
  const shown = needle ? values.value.filter((v) => v.value.toLowerCase().includes(needle)) : values.value;
  const max = values.value[0]?.bytes || 1;
  return (
    <div class="logs-side-values">
      {values.value.length > 8 && (
        <FilterBox count={values.value.length} noun="values" label={`Filter values of ${name}`} value={filter} onInput={setFilter} />
      )}
      {values.value.length === 0 ? (
        <p class="logs-side-note">No values in this range.</p>
      ) : shown.length === 0 ? (
        <p class="logs-side-note">No value matches "{filter}".</p>
      ) : (
        <ul class="logs-side-list" aria-label={`Values of ${name}, by bytes in range`}>
          {shown.map((v) => (
            <li class="logs-side-row">
              <button
                type="button"
                class="logs-side-value"
                title={`Add ${name}=${quote(v.value)} (alt-click to exclude)`}
                onClick={(e) => onPick(name, v.value, e.altKey)}
              >
                <span class="logs-side-bar" style={{ width: `${Math.max(2, (v.bytes / max) * 100)}%` }} aria-hidden="true" />
                <span class="logs-side-text">
                  {v.value}
                  <span class="logs-side-hidden">,</span>
                </span>
                <span class="logs-side-count">{formatBytes(v.bytes)}</span>
              </button>
              <button
                type="button"
                class="logs-side-negate"
                aria-label={`Exclude ${name}=${quote(v.value)}`}
                title={`Exclude ${name}=${quote(v.value)}`}
                onClick={() => onPick(name, v.value, true)}
              >
                −
              </button>
            </li>
          ))}
        </ul>
      )}
      {values.value.length >= VALUES_LIMIT && <p class="logs-side-note">Showing the {VALUES_LIMIT} largest values.</p>}
    </div>
  );
}

export function LabelBrowser({ start, end, onPick }: LabelBrowserProps) {
  const [names, setNames] = useState<Load<string[]>>({ state: "loading" });
  const [open, setOpen] = useState<Set<string>>(new Set());
  // A new range reloads names and open values; the old ones stay on screen until then.
  useEffect(() => {
    const ctl = new AbortController();
    labelNames(start, end, undefined, ctl.signal)
      .then((n) => setNames({ state: "ok", value: visibleLabels(n) }))
      .catch((e: Error) => !ctl.signal.aborted && setNames({ state: "error", message: e.message }));
    return () => ctl.abort();
  }, [start, end]);

  const toggle = (n: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(n)) next.delete(n);
      else next.add(n);
      return next;
    });

  return (
    <section class="logs-side-panel" aria-labelledby="logs-side-labels-title">
      <h2 id="logs-side-labels-title" class="logs-side-title">
        Labels <span class="logs-side-unit">(bytes in range)</span>
      </h2>
      {names.state === "loading" ? (
        <LoadingNote what="labels" />
      ) : names.state === "error" ? (
        <ErrorNote what="labels" message={names.message} />
      ) : names.value.length === 0 ? (
        <p class="logs-side-note">No labels in this range: no logs have arrived in it.</p>
      ) : (
        <ul class="logs-side-names">
          {names.value.map((n) => (
            <li>
              <button
                type="button"
                class="logs-side-name"
                aria-expanded={open.has(n)}
                onClick={() => toggle(n)}
              >
                <span aria-hidden="true" class="logs-side-caret">
                  {open.has(n) ? "▾" : "▸"}
                </span>
                {n}
              </button>
              {open.has(n) && <LabelValues name={n} start={start} end={end} onPick={onPick} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
