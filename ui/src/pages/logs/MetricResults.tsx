// A metric query's series as a table: their labels and last values (the graph is the chart's).
import type { MatrixResult } from "../../lib/api";

export function seriesName(metric: Record<string, string>): string {
  const keys = Object.keys(metric).sort();
  if (keys.length === 0) return "{}";
  return `{${keys.map((k) => `${k}=${JSON.stringify(metric[k])}`).join(", ")}}`;
}

export function formatValue(v: string): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return v;
  return Number.isInteger(n) ? String(n) : n.toPrecision(6).replace(/\.?0+$/, "");
}

export function SeriesTable({ result }: { result: MatrixResult[] }) {
  if (result.length === 0) return <p class="muted">The query returned no series in this range.</p>;
  return (
    <div class="logs-series-wrap">
      <table class="logs-series">
        <caption class="sr-only">Series and their last values</caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col" class="logs-num">
              Last value
            </th>
          </tr>
        </thead>
        <tbody>
          {result.map((r) => {
            const last = r.values[r.values.length - 1];
            return (
              <tr key={seriesName(r.metric)}>
                <td class="mono">{seriesName(r.metric)}</td>
                <td class="mono logs-num">{last ? formatValue(last[1]) : "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
