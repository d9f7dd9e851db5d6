// The Table tab: an instant query's answer at the range's end, one row per series (its labels,
// its value, and a link to its pod's logs where it names one), or the one scalar or string.
import type { PromData } from "../../lib/api";
import { formatTimestamp } from "../../lib/time";
import { logsLink, seriesLabel } from "./series";

export function formatSample(v: string): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return v; // NaN, +Inf, -Inf as Prometheus writes them
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(10)));
}

export function ResultTable(props: { data: PromData; time: number; from: string; to: string; index: number }) {
  const { data, time, from, to, index } = props;
  const caption = `Query ${index + 1} at ${formatTimestamp(time, false).slice(0, 19)}`;
  if (data.resultType === "scalar" || data.resultType === "string") {
    return (
      <table class="metrics-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{data.resultType === "scalar" ? "Scalar" : "String"}</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <td class="mono">{data.resultType === "scalar" ? formatSample(data.result[1]) : data.result[1]}</td>
          </tr>
        </tbody>
      </table>
    );
  }
  const rows =
    data.resultType === "vector"
      ? data.result.map((r) => ({ metric: r.metric, value: formatSample(r.value[1]) }))
      : data.result.map((r) => ({ metric: r.metric, value: r.values.map((v) => formatSample(v[1])).join(", ") }));
  if (rows.length === 0) return <p class="muted">The query returned no series at {formatTimestamp(time, false).slice(0, 19)}.</p>;
  return (
    <div class="metrics-table-wrap">
      <table class="metrics-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col" class="metrics-num">
              Value
            </th>
            <th scope="col">
              <span class="sr-only">Links</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const name = seriesLabel(r.metric);
            const logs = logsLink(r.metric, from, to);
            return (
              <tr key={name}>
                <td class="mono metrics-series">{name}</td>
                <td class="mono metrics-num">{r.value}</td>
                <td>
                  {logs && (
                    <a href={logs} aria-label={`Logs for ${name}`}>
                      Logs
                    </a>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
