// One row of the explorer: a PromQL editor, and its answer as a graph (a range query, one line
// per series) or a table (an instant query at the range's end), with the API's warnings and
// infos. The row fetches whenever its query, the range, the step or the tab changes, or on a
// refresh; an answer still on its way for an earlier run is dropped.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { TimeSeriesChart, type ChartSeries } from "../../components/chart";
import { QueryEditor, type EditorError } from "../../editor";
import { promErrorPosition, promQuery, promQueryRange, ServerDownError, type PromData } from "../../lib/api";
import { ResultTable } from "./ResultTable";
import { logsLink, seriesLabel } from "./series";
import { autoStep, formatStep, stepProblem } from "./step";

export type Tab = "graph" | "table";

export interface QueryPanelProps {
  index: number;
  count: number;
  draft: string;
  onDraft: (text: string) => void;
  onRun: (text: string) => void;
  onRemove: () => void;
  /** The query this row last ran (from the URL); null for a row added but not run yet. */
  query: string | null;
  range: { start: number; end: number } | null;
  from: string;
  to: string;
  /** The step set in the URL (ms), or null to choose one from the chart's width. */
  step: number | null;
  tab: Tab;
  stacked: boolean;
  onTab: (tab: Tab) => void;
  onStacked: (on: boolean) => void;
  tick: number;
}

type Answer =
  | { kind: "graph"; series: ChartSeries[]; start: number; end: number; step: number; other: string | null }
  | { kind: "table"; data: PromData; time: number };

interface Outcome {
  answer: Answer | null;
  error: string | null;
  notes: { warnings: string[]; infos: string[] };
  loading: boolean;
}

const NONE: Outcome = { answer: null, error: null, notes: { warnings: [], infos: [] }, loading: false };

/** The API's message with its `1:14: ` position taken out (the editor says where, beside it). */
function withoutPosition(message: string): string {
  return message.replace(/(^|\s)\d+:\d+: parse error/, "$1parse error");
}

export function QueryPanel(p: QueryPanelProps) {
  const [out, setOut] = useState<Outcome>(NONE);
  const box = useRef<HTMLDivElement>(null);
  const runId = useRef(0);
  const n = p.index + 1;

  useEffect(() => {
    const id = ++runId.current;
    if (!p.query || !p.range) {
      setOut(NONE);
      return;
    }
    const { start, end } = p.range;
    const query = p.query;
    let step = p.step;
    if (p.tab === "graph") {
      // The chart's width when the query runs: a resize later redraws, it does not refetch.
      step ??= autoStep(start, end, box.current?.clientWidth || 1000);
      const problem = stepProblem(start, end, step);
      if (problem) {
        setOut({ ...NONE, error: problem });
        return;
      }
    }
    const ctl = new AbortController();
    setOut((o) => ({ ...o, loading: true }));
    const request = p.tab === "graph" ? promQueryRange(query, start, end, step!, ctl.signal) : promQuery(query, end, ctl.signal);
    request
      .then((res) => {
        if (id !== runId.current) return;
        const notes = { warnings: res.warnings ?? [], infos: res.infos ?? [] };
        let answer: Answer;
        if (p.tab === "table") {
          answer = { kind: "table", data: res.data, time: end };
        } else if (res.data.resultType === "matrix") {
          const series = res.data.result
            .map((r) => ({
              name: seriesLabel(r.metric),
              labels: r.metric,
              points: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number | null]),
            }))
            .sort((a, b) => a.name.localeCompare(b.name));
          answer = { kind: "graph", series, start, end, step: step!, other: null };
        } else {
          answer = { kind: "graph", series: [], start, end, step: step!, other: res.data.resultType };
        }
        setOut({ answer, error: null, notes, loading: false });
      })
      .catch((e: unknown) => {
        if (ctl.signal.aborted || id !== runId.current) return;
        // An unreachable server is the shell's banner's to say.
        const message = e instanceof ServerDownError ? null : e instanceof Error ? e.message : String(e);
        setOut({ ...NONE, error: message });
      });
    return () => ctl.abort();
  }, [p.query, p.range?.start, p.range?.end, p.step, p.tab, p.tick]);

  const editorError: EditorError | null = useMemo(() => {
    if (!out.error) return null;
    const at = promErrorPosition(out.error);
    return at ? { message: withoutPosition(out.error), ...at } : { message: out.error };
  }, [out.error]);

  const answer = out.answer;
  const stepText = answer?.kind === "graph" ? ` (step ${formatStep(answer.step)}${p.step === null ? ", from the width" : ""})` : "";
  return (
    <section class="metrics-panel" aria-label={`Query ${n}`}>
      <div class="metrics-panel-head">
        <div class="metrics-editor">
          <QueryEditor
            value={p.draft}
            onChange={p.onDraft}
            onRun={p.onRun}
            language="promql"
            shiftEnterRuns
            ariaLabel={`PromQL query ${n}`}
            placeholder="rate(container_cpu_usage_seconds_total[5m])"
            range={p.range ?? undefined}
            error={editorError}
          />
        </div>
        <button type="button" onClick={p.onRemove} disabled={p.count === 1} aria-label={`Remove query ${n}`} title="Remove this query">
          Remove
        </button>
      </div>
      <div class="metrics-panel-tools">
        <div role="tablist" aria-label={`Query ${n} view`} class="metrics-tabs">
          {(["graph", "table"] as const).map((t) => (
            <button
              type="button"
              role="tab"
              id={`metrics-tab-${p.index}-${t}`}
              aria-selected={p.tab === t}
              aria-controls={`metrics-view-${p.index}`}
              tabIndex={p.tab === t ? 0 : -1}
              onClick={() => p.onTab(t)}
              onKeyDown={(e) => {
                if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
                  e.preventDefault();
                  const other = t === "graph" ? "table" : "graph";
                  p.onTab(other);
                  document.getElementById(`metrics-tab-${p.index}-${other}`)?.focus();
                }
              }}
            >
              {t === "graph" ? "Graph" : "Table"}
            </button>
          ))}
        </div>
        {p.tab === "graph" && (
          <button type="button" aria-pressed={p.stacked} onClick={() => p.onStacked(!p.stacked)}>
            Stacked
          </button>
        )}
        <span class="metrics-status" role="status" aria-label={`Query ${n} status`}>
          {out.loading ? "Loading…" : answer?.kind === "graph" ? `${answer.series.length} series${stepText}` : ""}
        </span>
      </div>
      {(out.notes.warnings.length > 0 || out.notes.infos.length > 0) && (
        <ul class="metrics-notes" aria-label={`Query ${n} warnings and infos`}>
          {out.notes.warnings.map((w) => (
            <li class="metrics-warning">
              <strong>Warning:</strong> {w}
            </li>
          ))}
          {out.notes.infos.map((w) => (
            <li class="metrics-info">
              <strong>Info:</strong> {w}
            </li>
          ))}
        </ul>
      )}
      <div
        id={`metrics-view-${p.index}`}
        role="tabpanel"
        aria-labelledby={`metrics-tab-${p.index}-${p.tab}`}
        class="metrics-view"
        ref={box}
      >
        {p.query === null ? (
          <p class="muted">Write a PromQL query and press Shift+Enter or Run.</p>
        ) : out.error !== null && !answer ? (
          <p class="muted">No result: the query failed (see above).</p>
        ) : !answer ? (
          <p class="muted">Loading…</p>
        ) : answer.kind === "table" ? (
          <ResultTable data={answer.data} time={answer.time} from={p.from} to={p.to} index={p.index} />
        ) : answer.other ? (
          <p class="muted">
            The query gave a {answer.other}, which has no graph: see the Table tab.
          </p>
        ) : answer.series.length === 0 ? (
          <p class="muted">The query returned no series in this range.</p>
        ) : (
          <TimeSeriesChart
            series={answer.series}
            start={answer.start}
            end={answer.end}
            step={answer.step}
            stacked={p.stacked}
            height={260}
            ariaLabel={`Query ${n} graph`}
            legendExtra={(s) => {
              const link = logsLink(s.labels, p.from, p.to);
              return link ? (
                <a class="metrics-logs-link" href={link} aria-label={`Logs for ${s.name}`}>
                  Logs
                </a>
              ) : null;
            }}
          />
        )}
      </div>
    </section>
  );
}
