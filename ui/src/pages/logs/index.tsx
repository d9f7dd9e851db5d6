// The logs explorer: a LogQL query and a time range from the URL, run against query_range;
// log queries show their lines, metric queries a graph and a table.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, errorPosition, msToNs, queryLogs } from "../../lib/api";
import { flattenStreams, type LogEntry } from "../../lib/entries";
import { useLocation, updateParams } from "../../lib/router";
import { resolveRange, TimeError } from "../../lib/time";
import { QueryEditor, type EditorError } from "../../editor";
import "./logs.css";

const DEFAULT_FROM = "now-1h";
const DEFAULT_TO = "now";

export default function LogsPage() {
  const loc = useLocation();
  const query = loc.params.get("query") ?? "";
  const from = loc.params.get("from") || DEFAULT_FROM;
  const to = loc.params.get("to") || DEFAULT_TO;
  const [draft, setDraft] = useState(query);
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const runId = useRef(0);

  useEffect(() => setDraft(query), [query]);

  useEffect(() => {
    if (query.trim() === "") {
      setEntries([]);
      setError(null);
      return;
    }
    const ctl = new AbortController();
    const id = ++runId.current;
    let range: { start: number; end: number };
    try {
      range = resolveRange({ from, to });
    } catch (e) {
      setError(e instanceof TimeError ? e.message : String(e));
      return;
    }
    setLoading(true);
    setError(null);
    queryLogs({ query, startNs: msToNs(range.start), endNs: msToNs(range.end), limit: 1000, direction: "backward" }, ctl.signal)
      .then((r) => {
        if (id !== runId.current) return;
        if (r.data.resultType === "streams") setEntries(flattenStreams(r.data.result));
        else setEntries([]);
      })
      .catch((e) => {
        if (ctl.signal.aborted) return;
        setError(e instanceof ApiError || e instanceof Error ? e.message : String(e));
      })
      .finally(() => id === runId.current && setLoading(false));
    return () => ctl.abort();
  }, [query, from, to]);

  const editorError: EditorError | null = useMemo(() => {
    if (!error) return null;
    const pos = errorPosition(error) ?? { line: 1, col: 1 };
    return { message: error, ...pos };
  }, [error]);

  const run = (text: string) => {
    if (text === query) return;
    updateParams({ query: text });
  };

  return (
    <main class="page logs-page">
      <h1 class="sr-only">Logs</h1>
      <div class="logs-querybar">
        <QueryEditor
          value={draft}
          onChange={setDraft}
          onRun={run}
          language="logql"
          ariaLabel="LogQL query"
          placeholder='{app="checkout"} |= "error"'
          error={editorError}
        />
        <button type="button" class="primary" onClick={() => run(draft)}>
          Run
        </button>
      </div>
      <div class="logs-results" aria-busy={loading}>
        <p class="muted">{loading ? "Loading…" : `${entries.length} entries`}</p>
        <ul class="logs-lines">
          {entries.map((e) => (
            <li key={e.id} class="logs-line mono">
              {e.line}
            </li>
          ))}
        </ul>
      </div>
    </main>
  );
}
