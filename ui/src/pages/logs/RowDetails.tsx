// An expanded row: the line's own fields (JSON or logfmt, parsed here) and every label of the
// entry (stream, structured metadata, parsed), each with filter-in and filter-out buttons.
import type { FieldParser } from "../../lib/logql";
import type { LogEntry } from "../../lib/entries";
import { useLocation } from "../../lib/router";
import { podMetricsLink } from "../metrics/series";
import { lineFields } from "./fields";
import { stripAnsi } from "./ansi";
import { readView } from "./view";

export interface RowActions {
  onFieldFilter: (parser: FieldParser, field: string, value: string, negate: boolean) => void;
  onShowContext: (entry: LogEntry) => void;
}

function FilterButtons(props: { name: string; value: string; onFilter: (negate: boolean) => void }) {
  const pair = `${props.name}=${props.value}`;
  return (
    <span class="logs-filter-buttons">
      <button type="button" class="logs-icon-button" aria-label={`Filter for ${pair}`} title={`Filter for ${pair}`} onClick={() => props.onFilter(false)}>
        <span aria-hidden="true">+</span>
      </button>
      <button type="button" class="logs-icon-button" aria-label={`Filter out ${pair}`} title={`Filter out ${pair}`} onClick={() => props.onFilter(true)}>
        <span aria-hidden="true">−</span>
      </button>
    </span>
  );
}

const KIND_NAMES: Record<string, string> = { label: "stream label", structured_metadata: "structured metadata", parsed: "parsed" };

export function RowDetails({ entry, actions }: { entry: LogEntry; actions: RowActions }) {
  const view = readView(useLocation().params);
  // The pod's CPU and memory over the same range, where the line's labels name a pod.
  const metrics = podMetricsLink({ ...entry.metadata, ...entry.stream }, view.from, view.to);
  const taken = new Set([...Object.keys(entry.stream), ...Object.keys(entry.metadata)]);
  const found = lineFields(stripAnsi(entry.line), taken);
  const labels: { kind: "label" | "structured_metadata" | "parsed"; name: string; value: string }[] = [
    ...Object.entries(entry.stream).map(([name, value]) => ({ kind: "label" as const, name, value })),
    ...Object.entries(entry.metadata).map(([name, value]) => ({ kind: "structured_metadata" as const, name, value })),
    ...Object.entries(entry.parsed).map(([name, value]) => ({ kind: "parsed" as const, name, value })),
  ];
  return (
    <div class="logs-details">
      <div class="logs-details-actions">
        <button type="button" onClick={() => actions.onShowContext(entry)}>
          Show context
        </button>
        {metrics && (
          <a href={metrics} aria-label={`Metrics for this pod (${entry.stream.pod ?? entry.metadata.pod})`}>
            Metrics for this pod
          </a>
        )}
        <span class="muted mono">{entry.tsNs} ns</span>
      </div>
      {found && found.fields.length > 0 && (
        <table class="logs-fields">
          <caption>Fields ({found.format === "json" ? "JSON" : "logfmt"})</caption>
          <tbody>
            {found.fields.map(([name, value]) => (
              <tr key={name}>
                <th scope="row" class="mono">
                  {name}
                </th>
                <td class="mono logs-field-value">{value}</td>
                <td class="logs-field-actions">
                  <FilterButtons name={name} value={value} onFilter={(neg) => actions.onFieldFilter(found.format, name, value, neg)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <table class="logs-fields">
        <caption>Labels</caption>
        <tbody>
          {labels.map((l) => (
            <tr key={`${l.kind}:${l.name}`}>
              <th scope="row" class="mono">
                {l.name}
                <span class="logs-kind"> {KIND_NAMES[l.kind]}</span>
              </th>
              <td class="mono logs-field-value">{l.value}</td>
              <td class="logs-field-actions">
                {/* A parsed label exists already in the query's pipeline: filter on it directly. */}
                <FilterButtons
                  name={l.name}
                  value={l.value}
                  onFilter={(neg) => actions.onFieldFilter(l.kind === "parsed" ? "structured_metadata" : l.kind, l.name, l.value, neg)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
