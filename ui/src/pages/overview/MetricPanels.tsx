// The overview's metric cards: CPU and memory by namespace and by pod, error log lines by
// namespace (graphs over the overview's range), restarting containers and targets that are
// down (lists, instant queries). Each card links to the explorer query it shows.
import { TimeSeriesChart, type ChartSeries } from "../../components/chart";
import { promQuery, promQueryRange, queryRange, type MatrixResult, type VectorResult } from "../../lib/api";
import { pickStep } from "../../lib/time";
import { useFetch } from "./hooks";
import { RANGE_MS, streamLink, type OverviewRange } from "./overview";
import { panelLink, RANGE_PANELS, restartsQuery, TARGETS_DOWN, type RangePanel } from "./panels";

/** A series named by its label values, shortest first: `api`, `api / checkout-7d9f-abcde`. */
function shortName(metric: Record<string, string>): string {
  const keys = Object.keys(metric)
    .filter((k) => !k.startsWith("__"))
    .sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b) || a.localeCompare(b));
  return keys.length ? keys.map((k) => metric[k]).join(" / ") : "total";
}
const ORDER = ["namespace", "pod", "container"];

function toSeries(result: MatrixResult[]): ChartSeries[] {
  return result
    .map((r) => ({
      name: shortName(r.metric),
      labels: r.metric,
      points: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number | null]),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function CardHead(props: { id: string; title: string; link: string; where: string }) {
  return (
    <div class="overview-card-head">
      <h2 id={props.id}>{props.title}</h2>
      <a href={props.link} aria-label={`Open in ${props.where}: ${props.title}`}>
        Open in {props.where}
      </a>
    </div>
  );
}

function NoMetrics({ what }: { what: string }) {
  return (
    <p class="overview-empty">
      No {what} yet. In a cluster Heron collects it from every node's kubelet (cAdvisor) with no configuration; run{" "}
      <code>heron demo</code> to see it with simulated pods.
    </p>
  );
}

function RangeCard({ panel, range, tick }: { panel: RangePanel; range: OverviewRange; tick: number }) {
  const data = useFetch(
    async (signal) => {
      const end = Date.now();
      const start = end - RANGE_MS[range];
      const step = pickStep(start, end);
      const res =
        panel.language === "promql"
          ? await promQueryRange(panel.query, start, end, step, signal)
          : await queryRange({ query: panel.query, start, end, step }, signal);
      if (res.data.resultType !== "matrix") throw new Error(`unexpected ${res.data.resultType} result`);
      return { series: toSeries(res.data.result), start, end, step };
    },
    [range, tick],
  );
  const id = `overview-${panel.id}`;
  const where = panel.language === "promql" ? "metrics explorer" : "logs explorer";
  return (
    <section class="overview-card" aria-labelledby={id}>
      <CardHead id={id} title={panel.title} link={panelLink(panel.query, panel.language, range)} where={where} />
      {data.state === "loading" ? (
        <p class="muted" role="status">
          Loading…
        </p>
      ) : data.state === "error" ? (
        <p class="error" role="alert">
          {panel.title} could not be loaded: {data.message}
        </p>
      ) : data.value.series.length === 0 ? (
        panel.language === "promql" ? (
          <NoMetrics what="container metrics" />
        ) : (
          <p class="overview-empty">No error lines in the last {range}.</p>
        )
      ) : (
        <TimeSeriesChart
          series={data.value.series}
          start={data.value.start}
          end={data.value.end}
          step={data.value.step}
          unit={panel.unit}
          height={180}
          ariaLabel={`${panel.title} over the last ${range}`}
        />
      )}
    </section>
  );
}

export function MetricPanels({ range, tick }: { range: OverviewRange; tick: number }) {
  return (
    <div class="overview-grid">
      {RANGE_PANELS.map((p) => (
        <RangeCard key={p.id} panel={p} range={range} tick={tick} />
      ))}
    </div>
  );
}

function useInstant(query: string, range: OverviewRange, tick: number) {
  return useFetch<VectorResult[]>(
    async (signal) => {
      const res = await promQuery(query, Date.now(), signal);
      if (res.data.resultType !== "vector") throw new Error(`unexpected ${res.data.resultType} result`);
      return res.data.result;
    },
    [query, range, tick],
  );
}

function Restarts({ range, tick }: { range: OverviewRange; tick: number }) {
  const query = restartsQuery(range);
  const data = useInstant(query, range, tick);
  const title = "Restarting containers";
  return (
    <section class="overview-card" aria-labelledby="overview-restarts">
      <CardHead id="overview-restarts" title={title} link={panelLink(query, "promql", range, true)} where="metrics explorer" />
      {data.state === "loading" ? (
        <p class="muted" role="status">
          Loading…
        </p>
      ) : data.state === "error" ? (
        <p class="error" role="alert">
          The restarts could not be loaded: {data.message}
        </p>
      ) : data.value.length === 0 ? (
        <p class="overview-empty">No container restarted in the last {range}.</p>
      ) : (
        <ul class="overview-list" aria-label={`Containers that restarted in the last ${range}`}>
          {[...data.value]
            .sort((a, b) => Number(b.value[1]) - Number(a.value[1]))
            .map((r) => {
              const n = Number(r.value[1]);
              const name = shortName(r.metric);
              return (
                <li key={name}>
                  <a href={streamLink(r.metric, range)} aria-label={`${name} logs`}>
                    {name}
                  </a>
                  <span class="overview-count">
                    {n} {n === 1 ? "restart" : "restarts"}
                  </span>
                </li>
              );
            })}
        </ul>
      )}
    </section>
  );
}

function TargetsDown({ range, tick }: { range: OverviewRange; tick: number }) {
  const data = useInstant(TARGETS_DOWN, range, tick);
  const title = "Targets down";
  return (
    <section class="overview-card" aria-labelledby="overview-down">
      <CardHead id="overview-down" title={title} link={panelLink(TARGETS_DOWN, "promql", range, true)} where="metrics explorer" />
      {data.state === "loading" ? (
        <p class="muted" role="status">
          Loading…
        </p>
      ) : data.state === "error" ? (
        <p class="error" role="alert">
          The targets could not be loaded: {data.message}
        </p>
      ) : data.value.length === 0 ? (
        <p class="overview-empty">
          Every scrape target answered its last scrape (<a href="/targets">targets</a>).
        </p>
      ) : (
        <ul class="overview-list" aria-label="Targets whose last scrape failed">
          {data.value.map((r) => (
            <li key={`${r.metric.job}/${r.metric.instance}`}>
              <span class="mono">{r.metric.instance ?? "?"}</span>
              <span class="overview-count">job {r.metric.job ?? "?"}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function MetricListPanels({ range, tick }: { range: OverviewRange; tick: number }) {
  return (
    <div class="overview-grid">
      <Restarts range={range} tick={tick} />
      <TargetsDown range={range} tick={tick} />
    </div>
  );
}
