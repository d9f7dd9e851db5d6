// The field list (Kibana's field panel): the fields /loki/api/v1/detected_fields finds for the
// query, each with its type and, expanded, its top 5 values among the loaded entries with their
// share. A click on a value filters on it (`| json | status="500"`); alt-click or "−" excludes.
import { useEffect, useMemo, useState } from "preact/hooks";
import { getJSON, msToNs } from "../../lib/api";
import type { LogEntry } from "../../lib/entries";
import { quote, selectorOf, type FieldParser } from "../../lib/logql";
import { fieldParser, fieldStats, formatShare, LineCache, type DetectedField } from "./fieldStats";
import { ErrorNote, FilterBox, LoadingNote } from "./SideParts";
import "./LabelBrowser.css";
import "./FieldList.css";

export interface FieldListProps {
  query: string;
  start: number;
  end: number;
  entries: LogEntry[];
  onFilter(parser: FieldParser, field: string, value: string, negate: boolean): void;
}

type Load = { state: "idle" } | { state: "loading" } | { state: "error"; message: string } | { state: "ok"; fields: DetectedField[] };

function FieldValues({
  field,
  entries,
  cache,
  onFilter,
}: {
  field: DetectedField;
  entries: LogEntry[];
  cache: LineCache;
  onFilter: FieldListProps["onFilter"];
}) {
  const stats = useMemo(() => fieldStats(entries, field, cache), [entries, field, cache]);
  const parser = fieldParser(field);
  if (entries.length === 0) return <p class="logs-side-note">No entries are loaded: run the query to see values.</p>;
  if (stats.withField === 0)
    return <p class="logs-side-note">None of the {entries.length} loaded entries has {field.label}.</p>;
  return (
    <div class="logs-side-values">
      <ul class="logs-side-list" aria-label={`Top values of ${field.label}`}>
        {stats.top.map((v) => {
          const filter = `${field.label}=${quote(v.value)}`;
          return (
            <li class="logs-side-row">
              <button
                type="button"
                class="logs-side-value"
                title={`Filter ${filter} (alt-click to exclude)`}
                onClick={(e) => onFilter(parser, field.label, v.value, e.altKey)}
              >
                <span class="logs-side-bar" style={{ width: `${Math.max(2, v.share * 100)}%` }} aria-hidden="true" />
                <span class="logs-side-text">
                  {v.value === "" ? '""' : v.value}
                  <span class="logs-side-hidden">,</span>
                </span>
                <span class="logs-side-count">{formatShare(v.share)}</span>
              </button>
              <button
                type="button"
                class="logs-side-negate"
                aria-label={`Exclude ${filter}`}
                title={`Exclude ${filter}`}
                onClick={() => onFilter(parser, field.label, v.value, true)}
              >
                −
              </button>
            </li>
          );
        })}
      </ul>
      <p class="logs-side-note logs-side-basis">
        In {stats.withField} of {entries.length} loaded entries
        {stats.distinct > stats.top.length ? `, ${stats.distinct} distinct values` : ""}
      </p>
    </div>
  );
}

export function FieldList({ query, start, end, entries, onFilter }: FieldListProps) {
  const [load, setLoad] = useState<Load>({ state: "idle" });
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [filter, setFilter] = useState("");
  const selector = query.trim() ? selectorOf(query) : null;
  // One parse per line and parser for the whole result set.
  const cache = useMemo(() => new LineCache(), [entries]);

  useEffect(() => {
    if (!selector) {
      setLoad({ state: "idle" });
      return;
    }
    const ctl = new AbortController();
    setLoad((l) => (l.state === "ok" ? l : { state: "loading" }));
    getJSON<{ fields?: DetectedField[] | null }>(
      "/loki/api/v1/detected_fields",
      { query: query.trim(), start: msToNs(start), end: msToNs(end) },
      ctl.signal,
    )
      .then((r) => {
        const fields = (r.fields ?? []).slice().sort((a, b) => a.label.localeCompare(b.label));
        setLoad({ state: "ok", fields });
      })
      .catch((e: Error) => !ctl.signal.aborted && setLoad({ state: "error", message: e.message }));
    return () => ctl.abort();
  }, [query, start, end]);

  const toggle = (n: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(n)) next.delete(n);
      else next.add(n);
      return next;
    });

  const needle = filter.trim().toLowerCase();
  const fields = load.state === "ok" ? load.fields.filter((f) => !needle || f.label.toLowerCase().includes(needle)) : [];
  return (
    <section class="logs-side-panel" aria-labelledby="logs-side-fields-title">
      <h2 id="logs-side-fields-title" class="logs-side-title">
        Fields <span class="logs-side-unit">(share of loaded entries)</span>
      </h2>
      {load.state === "idle" ? (
        <p class="logs-side-note">Write a query with a stream selector to see its fields.</p>
      ) : load.state === "loading" ? (
        <LoadingNote what="fields" />
      ) : load.state === "error" ? (
        <ErrorNote what="fields" message={load.message} />
      ) : load.fields.length === 0 ? (
        <p class="logs-side-note">No fields detected in these lines.</p>
      ) : (
        <>
          {load.fields.length > 10 && (
            <FilterBox count={load.fields.length} noun="fields" label="Filter fields" value={filter} onInput={setFilter} />
          )}
          {fields.length === 0 && <p class="logs-side-note">No field matches "{filter}".</p>}
          <ul class="logs-side-names">
            {fields.map((f) => (
              <li>
                <button
                  type="button"
                  class="logs-side-name"
                  aria-expanded={open.has(f.label)}
                  onClick={() => toggle(f.label)}
                >
                  <span aria-hidden="true" class="logs-side-caret">
                    {open.has(f.label) ? "▾" : "▸"}
                  </span>
                  {/* Flex items are named with spaces between them: the commas ride inside. */}
                  <span class="logs-side-field">
                    {f.label}
                    <span class="logs-side-hidden">,</span>
                  </span>
                  <span class="logs-side-type">
                    {f.type}
                    <span class="logs-side-hidden">{f.parsers?.length ? `, from ${f.parsers.join(" and ")}` : ", structured metadata"}</span>
                  </span>
                </button>
                {open.has(f.label) && <FieldValues field={f} entries={entries} cache={cache} onFilter={onFilter} />}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
