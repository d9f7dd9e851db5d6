// The lines around one entry in its stream: 50 before (backward, ending at its nanosecond) and
// 50 after (forward, from it), on the stream's exact selector. Esc closes the panel.
import { useEffect, useRef, useState } from "preact/hooks";
import { queryLogs } from "../../lib/api";
import { flattenStreams, type LogEntry } from "../../lib/entries";
import { quote } from "../../lib/logql";
import { formatTimestamp } from "../../lib/time";
import { renderLine } from "./LogLine";

export const CONTEXT_LINES = 50;
const WINDOW_NS = 24n * 3600n * 1_000_000_000n; // how far either way to look for the lines

export function streamSelector(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${quote(labels[k])}`)
    .join(", ")}}`;
}

interface Loaded {
  before: LogEntry[];
  after: LogEntry[]; // starts with the chosen entry (and any sharing its nanosecond)
}

export interface ContextPanelProps {
  entry: LogEntry; // from query_range (categorize-labels) or the tail: `stream` is the stored stream
  utc: boolean;
  stripAnsi: boolean;
  onClose: () => void;
}

export function ContextPanel(props: ContextPanelProps) {
  const { entry } = props;
  const [data, setData] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const panel = useRef<HTMLDivElement>(null);
  const close = useRef<HTMLButtonElement>(null);
  const selector = streamSelector(entry.stream);

  useEffect(() => {
    const ctl = new AbortController();
    const ts = BigInt(entry.tsNs);
    setData(null);
    setError(null);
    Promise.all([
      queryLogs({ query: selector, startNs: `${ts - WINDOW_NS}`, endNs: entry.tsNs, limit: CONTEXT_LINES, direction: "backward" }, ctl.signal),
      queryLogs({ query: selector, startNs: entry.tsNs, endNs: `${ts + WINDOW_NS}`, limit: CONTEXT_LINES + 1, direction: "forward" }, ctl.signal),
    ])
      .then(([b, a]) => {
        const streams = (r: typeof b) => (r.data.resultType === "streams" ? r.data.result : []);
        setData({ before: flattenStreams(streams(b), true), after: flattenStreams(streams(a), true) });
      })
      .catch((e) => {
        if (!ctl.signal.aborted) setError(e instanceof Error ? e.message : String(e));
      });
    return () => ctl.abort();
  }, [entry.id, selector]);

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        props.onClose();
      } else if (e.key === "Tab" && panel.current) {
        // A modal panel: Tab cycles inside it.
        const items = [...panel.current.querySelectorAll<HTMLElement>("button, [tabindex='0']")];
        if (items.length === 0) return;
        const first = items[0];
        const last = items[items.length - 1];
        const inside = panel.current.contains(document.activeElement);
        if (e.shiftKey && (document.activeElement === first || !inside)) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
          e.preventDefault();
          first.focus();
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      if (opener?.isConnected) opener.focus(); // back where the user was
    };
  }, []);

  // The chosen entry: the first of the forward page with its nanosecond and line.
  const chosen = data ? data.after.findIndex((e) => e.tsNs === entry.tsNs && e.line === entry.line) : -1;

  useEffect(() => {
    panel.current?.querySelector("[aria-current]")?.scrollIntoView({ block: "center" });
  }, [data]);

  const rows = data ? [...data.before, ...data.after] : [];
  const chosenRow = chosen >= 0 ? data!.before.length + chosen : -1;

  return (
    <div class="logs-context-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="logs-context" role="dialog" aria-modal="true" aria-labelledby="logs-context-title" ref={panel}>
        <div class="logs-context-head">
          <h2 id="logs-context-title">Context</h2>
          <code class="logs-context-selector">{selector}</code>
          <button type="button" ref={close} onClick={props.onClose}>
            Close
          </button>
        </div>
        {error ? (
          <p role="alert" class="error">
            The context could not be loaded: {error}
          </p>
        ) : !data ? (
          <p class="muted" aria-busy="true">
            Loading the lines around it…
          </p>
        ) : (
          <>
            <p class="muted logs-context-note">
              {data.before.length} lines before, {Math.max(0, data.after.length - (chosen >= 0 ? chosen + 1 : 0))} after, in
              this stream.
            </p>
            <ol class="logs-context-lines" aria-label="Lines around the chosen one" tabIndex={0}>
              {rows.map((e, i) => (
                <li
                  key={`${i}:${e.id}`}
                  aria-current={i === chosenRow ? "true" : undefined}
                  class={`logs-context-line mono logs-level-${e.level}`}
                >
                  <span class="logs-ts">{formatTimestamp(e.tsMs, props.utc)}</span>
                  <span class="logs-text">{renderLine(e.line, [], props.stripAnsi)}</span>
                </li>
              ))}
            </ol>
          </>
        )}
      </div>
    </div>
  );
}
