// The logs explorer: a LogQL query and a time range from the URL (opening such a URL runs it),
// log lines in a virtualised table with expansion, context and live tail, and metric queries
// as a graph and a table. Every view setting that a shared link should reproduce is a URL
// parameter (view.ts).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { errorPosition, msToNs, queryLogs, queryRange, ServerDownError, type MatrixResult } from "../../lib/api";
import { flattenStreams, type LogEntry } from "../../lib/entries";
import { addFieldFilter, addMatcher, isMetricQuery, type FieldParser } from "../../lib/logql";
import { updateParams, useLocation } from "../../lib/router";
import { pickStep, resolveRange, TimeError, toRfc3339 } from "../../lib/time";
import { TimeSeriesChart, VolumeChart, seriesFromMatrix } from "../../components/chart";
import { TimeRangePicker } from "../../components/timerange";
import { QueryEditor, type EditorError } from "../../editor";
import { ContextPanel } from "./ContextPanel";
import { FieldList } from "./FieldList";
import { LabelBrowser } from "./LabelBrowser";
import { saveFile, toNdjson, toText } from "./download";
import { LabelChip, LogTable } from "./LogTable";
import { SeriesTable } from "./MetricResults";
import { appendPage, nextPageBounds } from "./paging";
import { LiveTail, MAX_TAIL, mergeTail, type TailState } from "./tail";
import { readView, refreshMs } from "./view";
import "./logs.css";

export const LIMIT = 1000;

type Result =
  | { kind: "logs"; key: string; entries: LogEntry[]; more: boolean; startNs: string; endNs: string }
  | { kind: "metric"; series: MatrixResult[]; start: number; end: number; step: number };

function message(e: unknown): string | null {
  // An unreachable server is the shell's banner's to say, not the query's error.
  if (e instanceof ServerDownError) return null;
  return e instanceof Error ? e.message : String(e);
}

/** Labels with one value across every entry (Grafana's "common labels"). */
function commonLabels(entries: LogEntry[]): [string, string][] {
  if (entries.length === 0) return [];
  const first = entries[0].stream;
  return Object.entries(first).filter(([k, v]) => entries.every((e) => e.stream[k] === v));
}

export default function LogsPage() {
  const loc = useLocation();
  const view = readView(loc.params);
  const { query, from, to, forward } = view;
  const [draft, setDraft] = useState(query);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  // The query the side requests (histogram, detected fields) are for: set once the lines have
  // arrived, so those heavier requests never compete with the lines for the server's workers.
  const [answered, setAnswered] = useState<{ query: string; start: number; end: number; n: number } | null>(null);
  const [olderError, setOlderError] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [rangeError, setRangeError] = useState<string | null>(null);
  const [tick, setTick] = useState(0); // bumped to re-run the same query (Run, refresh)
  const [range, setRange] = useState<{ start: number; end: number }>(() => {
    try {
      return resolveRange({ from, to });
    } catch {
      return { start: Date.now() - 3_600_000, end: Date.now() };
    }
  });
  const [context, setContext] = useState<{ entry: LogEntry } | null>(null);
  const [sideOpen, setSideOpen] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const noticeTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const runId = useRef(0);
  const runKey = `${query}|${from}|${to}|${forward}`; // a refresh re-runs the same key
  const metric = useMemo(() => query.trim() !== "" && isMetricQuery(query), [query]);

  // ---- live tail ----
  // Live is tied to the query it was turned on for, so a new query is not live in the same render
  // (no socket opens for it) and the tail stops.
  const [liveFor, setLiveFor] = useState<string | null>(null);
  const live = liveFor !== null && liveFor === query;
  const setLive = (on: boolean) => setLiveFor(on ? query : null);
  const [tail, setTail] = useState<{ entries: LogEntry[]; dropped: number }>({ entries: [], dropped: 0 });
  const [serverDropped, setServerDropped] = useState(0);
  const [tailState, setTailState] = useState<{ state: TailState; detail?: string }>({ state: "stopped" });

  useEffect(() => setDraft(query), [query]);
  useEffect(() => {
    if (liveFor !== null && liveFor !== query) setLiveFor(null); // a new query stops the tail
  }, [query]);

  useEffect(() => {
    if (!live) return;
    setTail({ entries: [], dropped: 0 });
    setServerDropped(0);
    const t = new LiveTail({
      query,
      startNs: msToNs(Date.now()),
      onEntries: (fresh) =>
        setTail((prev) => {
          const r = mergeTail(prev.entries, fresh, MAX_TAIL);
          return { entries: r.entries, dropped: prev.dropped + r.dropped };
        }),
      onServerDropped: (n) => setServerDropped((d) => d + n),
      onState: (state, detail) => setTailState({ state, detail }),
    });
    t.start();
    return () => t.stop(); // toggled off, a new query, or leaving the page
  }, [live, query]);

  // ---- running the query ----
  useEffect(() => {
    setOlderError(null);
    const id = ++runId.current; // any answer still on its way is for an earlier run
    if (query.trim() === "") {
      setResult(null);
      setError(null);
      setLoading(false);
      return;
    }
    let r: { start: number; end: number };
    try {
      r = resolveRange({ from, to });
    } catch (e) {
      setError(null);
      setResult(null);
      setLoading(false);
      setRangeError(e instanceof TimeError ? e.message : message(e));
      return;
    }
    setRangeError(null);
    setRange(r);
    const ctl = new AbortController();
    setLoading(true);
    const done = (fn: () => void) => {
      if (id !== runId.current) return;
      fn();
      setLoading(false);
    };
    if (metric) {
      const step = pickStep(r.start, r.end);
      queryRange({ query, start: r.start, end: r.end, step }, ctl.signal)
        .then((res) =>
          done(() => {
            setError(null);
            const series = res.data.resultType === "matrix" ? res.data.result : [];
            setResult({ kind: "metric", series, start: r.start, end: r.end, step });
          }),
        )
        .catch((e) => !ctl.signal.aborted && done(() => setError(message(e))));
    } else {
      const bounds = { startNs: msToNs(r.start), endNs: msToNs(r.end) };
      queryLogs({ query, ...bounds, limit: LIMIT, direction: forward ? "forward" : "backward" }, ctl.signal)
        .then((res) =>
          done(() => {
            setError(null);
            const entries = res.data.resultType === "streams" ? flattenStreams(res.data.result, forward) : [];
            setResult({ kind: "logs", key: runKey, entries, more: entries.length >= LIMIT, ...bounds });
            setAnswered((a) => ({ query, start: r.start, end: r.end, n: (a?.n ?? 0) + 1 }));
          }),
        )
        .catch((e) => !ctl.signal.aborted && done(() => setError(message(e))));
    }
    return () => ctl.abort();
  }, [query, from, to, forward, tick, metric]);

  // ---- auto refresh, while the tab is visible ----
  let refreshError: string | null = null;
  let every: number | null = null;
  try {
    every = refreshMs(view.refresh);
  } catch (e) {
    refreshError = message(e);
  }
  useEffect(() => {
    if (!every || live) return;
    let missed = false; // a refresh fell due while the tab was hidden: run it on coming back
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") setTick((n) => n + 1);
      else missed = true;
    }, every);
    const onVisible = () => {
      if (document.visibilityState !== "visible" || !missed) return;
      missed = false;
      setTick((n) => n + 1);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [every, live]);

  const editorError: EditorError | null = useMemo(() => {
    const text = error ?? (tailState.state === "failed" && live ? tailState.detail ?? null : null);
    if (!text) return null;
    return { message: text, ...errorPosition(text) };
  }, [error, tailState, live]);

  const run = (text: string) => {
    if (text === query) setTick((n) => n + 1);
    else updateParams({ query: text });
  };
  const setQuery = (q: string) => updateParams({ query: q });

  const flash = (text: string) => {
    setNotice(text);
    clearTimeout(noticeTimer.current);
    noticeTimer.current = setTimeout(() => setNotice(null), 4000);
  };
  useEffect(() => () => clearTimeout(noticeTimer.current), []);

  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      flash("Link copied to the clipboard");
    } catch (e) {
      flash(`Could not copy the link (${message(e)}); copy it from the address bar`);
    }
  };

  const shown: LogEntry[] = live ? tail.entries : result?.kind === "logs" ? result.entries : [];

  const download = (kind: "ndjson" | "text") => {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    if (kind === "ndjson") saveFile(`heron-logs-${stamp}.ndjson`, "application/x-ndjson", toNdjson(shown));
    else saveFile(`heron-logs-${stamp}.txt`, "text/plain", toText(shown));
  };

  const loadMore = async () => {
    if (result?.kind !== "logs") return;
    const bounds = nextPageBounds(result.entries, forward, result);
    if (!bounds) return;
    const id = runId.current;
    setLoadingOlder(true);
    setOlderError(null);
    try {
      const res = await queryLogs({ query, ...bounds, limit: LIMIT, direction: forward ? "forward" : "backward" });
      if (id !== runId.current) return;
      const page = res.data.resultType === "streams" ? flattenStreams(res.data.result, forward) : [];
      const merged = appendPage(result.entries, page);
      setResult({ ...result, entries: merged.entries, more: page.length >= LIMIT && merged.added > 0 });
    } catch (e) {
      if (id === runId.current) setOlderError(message(e));
    } finally {
      if (id === runId.current) setLoadingOlder(false);
    }
  };

  const onLabel = (name: string, value: string, negate: boolean) => setQuery(addMatcher(query, name, value, negate ? "!=" : "="));
  const onFieldFilter = (parser: FieldParser, field: string, value: string, negate: boolean) =>
    setQuery(addFieldFilter(query, parser, field, value, negate));

  const common = live ? [] : commonLabels(shown);
  const commonSet = useMemo(() => new Set(common.map(([k]) => k)), [common.map(([k]) => k).join(",")]);

  // Zooming on a chart sets an absolute range: a history entry, as any range change.
  const zoom = (start: number, end: number) => updateParams({ from: toRfc3339(start), to: toRfc3339(end) });
  const chartSeries = useMemo(() => (result?.kind === "metric" ? seriesFromMatrix(result.series) : []), [result]);

  const toggle = (name: string, on: boolean, value = "1") => updateParams({ [name]: on ? value : undefined }, { replace: true });

  // On a phone the side panels fold behind the "Fields" button; Esc folds them again.
  const sideToggle = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!sideOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape" || context) return;
      setSideOpen(false);
      sideToggle.current?.focus();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [sideOpen, context]);

  return (
    <main class="page logs-page">
      <h1 class="sr-only">Logs</h1>
      <div class="logs-querybar">
        <div class="logs-editor">
          <QueryEditor
            value={draft}
            onChange={setDraft}
            onRun={run}
            language="logql"
            ariaLabel="LogQL query"
            placeholder='{app="checkout"} |= "error"'
            range={range}
            error={editorError}
          />
        </div>
        <div class="logs-actions">
          <button type="button" class="primary" onClick={() => run(draft)}>
            Run
          </button>
          <TimeRangePicker
            range={{ from, to }}
            refresh={view.refresh}
            onChange={(r) => updateParams({ from: r.from, to: r.to })}
            onRefreshChange={(r) => updateParams({ refresh: r }, { replace: true })}
            onRefreshNow={() => setTick((n) => n + 1)}
          />
          <button
            type="button"
            aria-pressed={live}
            disabled={metric || query.trim() === ""}
            title={metric ? "Live tail needs a log query" : "Show new lines as they arrive"}
            onClick={() => setLive(!live)}
          >
            Live
          </button>
          <button
            type="button"
            ref={sideToggle}
            class="logs-sidebar-toggle"
            aria-expanded={sideOpen}
            aria-controls="logs-sidebar"
            onClick={() => setSideOpen(!sideOpen)}
          >
            Fields
          </button>
          <button type="button" onClick={copyLink}>
            Copy link
          </button>
          <button type="button" disabled={shown.length === 0} onClick={() => download("ndjson")}>
            Download NDJSON
          </button>
          <button type="button" disabled={shown.length === 0} onClick={() => download("text")}>
            Download text
          </button>
        </div>
      </div>
      <div class="logs-notice" role="status" aria-label="Notice">
        {notice}
      </div>
      {(rangeError || refreshError) && (
        <p role="alert" class="error">
          {rangeError ?? refreshError}
        </p>
      )}
      <div class="logs-body logs-has-side">
        <aside id="logs-sidebar" class={`logs-sidebar${sideOpen ? " logs-sidebar-open" : ""}`} aria-label="Labels and fields">
          <LabelBrowser start={range.start} end={range.end} query={query} onPick={onLabel} />
          {!metric && answered && (
            <FieldList query={answered.query} start={answered.start} end={answered.end} entries={shown} onFilter={onFieldFilter} />
          )}
        </aside>
        <section class="logs-main" aria-label="Results">
          {result?.kind === "metric" && !live ? (
            <>
              <div class="logs-chart">
                <TimeSeriesChart
                  series={chartSeries}
                  start={result.start}
                  end={result.end}
                  step={result.step}
                  onZoom={zoom}
                  ariaLabel="Query result graph"
                />
              </div>
              <SeriesTable result={result.series} />
            </>
          ) : (
            <>
              {!live && query.trim() !== "" && !rangeError && !error && answered && (
                <div class="logs-chart">
                  <VolumeChart query={answered.query} start={answered.start} end={answered.end} onZoom={zoom} refreshKey={answered.n} height={110} />
                </div>
              )}
              <div class="logs-toolbar">
                <span class="logs-count" role="status" aria-label="Result count">
                  {live ? (
                    <LiveStatus state={tailState} count={tail.entries.length} dropped={tail.dropped} serverDropped={serverDropped} />
                  ) : loading && (result?.kind !== "logs" || result.key !== runKey) ? (
                    "Loading…"
                  ) : result?.kind === "logs" ? (
                    // A refresh keeps the count on screen until its answer replaces it.
                    <>
                      {result.entries.length} {result.entries.length === 1 ? "entry" : "entries"}
                      {result.more && <span class="logs-limit"> · limit of {LIMIT} reached</span>}
                    </>
                  ) : null}
                </span>
                <span class="logs-toggles">
                  <button type="button" aria-pressed={forward} disabled={live} onClick={() => toggle("order", !forward, "forward")}>
                    Oldest first
                  </button>
                  <button type="button" aria-pressed={view.utc} onClick={() => toggle("utc", !view.utc)}>
                    UTC
                  </button>
                  <button type="button" aria-pressed={view.wrap} onClick={() => toggle("wrap", !view.wrap)}>
                    Wrap lines
                  </button>
                  <button type="button" aria-pressed={!view.stripAnsi} onClick={() => toggle("ansi", !view.stripAnsi, "strip")}>
                    ANSI colours
                  </button>
                </span>
              </div>
              {common.length > 0 && (
                <div class="logs-common" role="group" aria-label="Labels every line has">
                  <span class="muted">Common labels:</span>
                  {common.map(([k, v]) => (
                    <LabelChip key={k} name={k} value={v} onLabel={onLabel} />
                  ))}
                </div>
              )}
              {!live && result?.kind === "logs" && result.entries.length === 0 && !loading && (
                <p class="muted">No lines match in this range.</p>
              )}
              {live && tail.entries.length === 0 && tailState.state === "live" && (
                <p class="muted">Waiting for new lines; they appear at the top as they arrive.</p>
              )}
              {query.trim() === "" && <p class="muted">Write a LogQL query, for example {'{app="checkout"}'}, and press Enter.</p>}
              <LogTable
                entries={shown}
                query={query}
                utc={view.utc}
                wrap={view.wrap}
                stripAnsi={view.stripAnsi}
                common={commonSet}
                resetKey={`${query}|${from}|${to}|${forward}|${live}`}
                onLabel={onLabel}
                onFieldFilter={onFieldFilter}
                onShowContext={(entry) => setContext({ entry })}
              />
              {!live && result?.kind === "logs" && result.more && (
                <div class="logs-more">
                  <button type="button" onClick={loadMore} disabled={loadingOlder}>
                    {loadingOlder ? "Loading…" : forward ? "Load newer" : "Load older"}
                  </button>
                  {olderError && (
                    <span role="alert" class="error">
                      Could not load more: {olderError}
                    </span>
                  )}
                </div>
              )}
            </>
          )}
        </section>
      </div>
      {context && (
        <ContextPanel
          entry={context.entry}
          utc={view.utc}
          stripAnsi={view.stripAnsi}
          onClose={() => setContext(null)}
        />
      )}
    </main>
  );
}

function LiveStatus(props: { state: { state: TailState; detail?: string }; count: number; dropped: number; serverDropped: number }) {
  const { state, detail } = props.state;
  const label =
    state === "live" ? "Live" : state === "connecting" ? "Connecting…" : state === "reconnecting" ? "Reconnecting" : state === "failed" ? "Tail stopped" : "Stopped";
  return (
    <span class={`logs-live logs-live-${state}`}>
      <span class="logs-live-dot" aria-hidden="true" />
      <span data-tail-state={state}>{label}</span>
      {detail && state !== "failed" ? ` (${detail})` : ""} · {props.count} {props.count === 1 ? "line" : "lines"}
      {props.dropped > 0 && ` · ${props.dropped} older dropped from the page (at most ${MAX_TAIL} kept)`}
      {props.serverDropped > 0 && ` · ${props.serverDropped} dropped by the server`}
    </span>
  );
}
