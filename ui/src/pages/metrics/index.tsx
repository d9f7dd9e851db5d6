// The metrics explorer (`/metrics`): PromQL queries, each its own row with an editor and a graph
// or table, over one shared time range and step. The URL is the state (state.ts): Run writes
// the editors' texts into it, and opening such a URL runs them.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { TimeRangePicker } from "../../components/timerange";
import { navigate, useLocation } from "../../lib/router";
import { resolveRange } from "../../lib/time";
import { QueryPanel, type Tab } from "./QueryPanel";
import { commitDrafts, readState, refreshPeriod, removeRow, setRowFlag, stateHref, type MetricsState } from "./state";
import { parseStep } from "./step";
import "./metrics.css";

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export default function MetricsPage() {
  const loc = useLocation();
  const state = readState(loc.params);
  const urlKey = state.queries.join("\u0000");
  const [drafts, setDrafts] = useState<string[]>(() => (state.queries.length ? [...state.queries] : [""]));
  // The URL this page wrote last: coming back to it is not a reason to reset the drafts.
  const wrote = useRef<string | null>(null);
  const [tick, setTick] = useState(0);
  const [stepDraft, setStepDraft] = useState(state.step);

  useEffect(() => {
    if (wrote.current === urlKey) return;
    setDrafts(state.queries.length ? [...state.queries] : [""]);
  }, [urlKey]);
  useEffect(() => setStepDraft(state.step), [state.step]);

  const go = (next: MetricsState, opts: { replace?: boolean } = {}) => {
    wrote.current = next.queries.join("\u0000");
    navigate(stateHref(next), opts);
  };

  const runAll = (texts: string[]) => {
    const next = commitDrafts(state, texts);
    setDrafts(next.queries.length ? [...next.queries] : [""]);
    if (stateHref(next) === stateHref(state)) setTick((t) => t + 1);
    else go(next);
  };

  const range = useMemo(() => {
    try {
      return { value: resolveRange({ from: state.from, to: state.to }), error: null };
    } catch (e) {
      return { value: null, error: errorText(e) };
    }
  }, [state.from, state.to, tick]);

  let step: number | null = null;
  let stepError: string | null = null;
  if (state.step) {
    try {
      step = parseStep(state.step);
    } catch (e) {
      stepError = errorText(e);
    }
  }
  let stepDraftError: string | null = null;
  if (stepDraft.trim() !== "") {
    try {
      parseStep(stepDraft);
    } catch (e) {
      stepDraftError = errorText(e);
    }
  }
  const applyStep = () => {
    if (stepDraftError || stepDraft.trim() === state.step) return;
    go({ ...state, step: stepDraft.trim() });
  };

  // Auto refresh, while the tab is visible.
  const every = refreshPeriod(state.refresh);
  useEffect(() => {
    if (!every) return;
    const timer = setInterval(() => document.visibilityState === "visible" && setTick((t) => t + 1), every);
    return () => clearInterval(timer);
  }, [every]);

  const remove = (i: number) => {
    const rest = drafts.filter((_, j) => j !== i);
    setDrafts(rest.length ? rest : [""]);
    if (i < state.queries.length) go(removeRow(state, i));
  };

  return (
    <main class="page metrics-page">
      <h1>Metrics</h1>
      <div class="metrics-bar">
        <TimeRangePicker
          range={{ from: state.from, to: state.to }}
          refresh={state.refresh}
          onChange={(r) => go({ ...state, from: r.from, to: r.to })}
          onRefreshChange={(r) => go({ ...state, refresh: r }, { replace: true })}
          onRefreshNow={() => setTick((t) => t + 1)}
        />
        <form
          class="metrics-step"
          onSubmit={(e) => {
            e.preventDefault();
            applyStep();
          }}
        >
          <label for="metrics-step">Step</label>
          <input
            id="metrics-step"
            class="mono"
            value={stepDraft}
            placeholder="auto"
            size={7}
            spellcheck={false}
            aria-invalid={stepDraftError ? true : undefined}
            aria-describedby={stepDraftError ? "metrics-step-error" : undefined}
            onInput={(e) => setStepDraft((e.target as HTMLInputElement).value)}
            onBlur={applyStep}
          />
        </form>
        <button type="button" onClick={() => setDrafts([...drafts, ""])}>
          Add query
        </button>
        <button type="button" class="primary" onClick={() => runAll(drafts)}>
          Run
        </button>
      </div>
      {(stepDraftError || stepError || range.error) && (
        <p id="metrics-step-error" class="error" role="alert">
          {stepDraftError ?? (stepError ? `The URL's step cannot be used: ${stepError}` : `The time range cannot be used: ${range.error}`)}
        </p>
      )}
      {drafts.map((d, i) => (
        <QueryPanel
          key={i}
          index={i}
          count={drafts.length}
          draft={d}
          onDraft={(text) => setDrafts((ds) => ds.map((x, j) => (j === i ? text : x)))}
          onRun={(text) => runAll(drafts.map((x, j) => (j === i ? text : x)))}
          onRemove={() => remove(i)}
          query={i < state.queries.length ? state.queries[i] : null}
          range={stepError ? null : range.value}
          from={state.from}
          to={state.to}
          step={step}
          tab={state.table.includes(i) ? "table" : "graph"}
          stacked={state.stacked.includes(i)}
          onTab={(t: Tab) => go({ ...state, table: setRowFlag(state.table, i, t === "table") }, { replace: true })}
          onStacked={(on) => go({ ...state, stacked: setRowFlag(state.stacked, i, on) }, { replace: true })}
          tick={tick}
        />
      ))}
    </main>
  );
}
