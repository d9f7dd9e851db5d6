// The results table: virtualised rows (only the visible window plus a margin is in the DOM;
// rendered rows are measured, so wrapped and expanded rows take their real height).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { LogEntry } from "../../lib/entries";
import { highlightRanges, lineFilterTerms, type LineFilterTerm } from "../../lib/logql";
import { formatTimestamp } from "../../lib/time";
import { stripAnsi } from "./ansi";
import { renderLine } from "./LogLine";
import { RowDetails, type RowActions } from "./RowDetails";
import { offsets, visibleWindow } from "./virtual";

export interface LogTableProps extends RowActions {
  entries: LogEntry[];
  query: string;
  utc: boolean;
  wrap: boolean;
  stripAnsi: boolean;
  /** Labels every entry shares: shown once above the table, not in each row. */
  common: Set<string>;
  onLabel: (name: string, value: string, negate: boolean) => void;
  /** Changes with each new query run: rows collapse and the table scrolls back to the top. */
  resetKey: string;
}

const ESTIMATE = 26;
const MARGIN = 600;

export function chipTitle(name: string, value: string): string {
  return `Click to filter for ${name}="${value}", Alt-click to filter it out`;
}

export function LabelChip(props: { name: string; value: string; onLabel: LogTableProps["onLabel"] }) {
  return (
    <button
      type="button"
      class="logs-chip"
      title={chipTitle(props.name, props.value)}
      onClick={(e) => {
        e.stopPropagation();
        props.onLabel(props.name, props.value, e.altKey);
      }}
    >
      <span class="logs-chip-name">{props.name}</span>=<span>{props.value}</span>
    </button>
  );
}

export function LogTable(props: LogTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [, setMeasured] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const terms = useMemo(() => lineFilterTerms(props.query), [props.query]);

  // More results (load older, live tail): rows whose entries are gone are forgotten.
  useEffect(() => {
    setExpanded((prev) => {
      if (prev.size === 0) return prev;
      const ids = new Set(props.entries.map((e) => e.id));
      const next = new Set([...prev].filter((id) => ids.has(id)));
      return next.size === prev.size ? prev : next;
    });
  }, [props.entries]);

  useEffect(() => {
    setExpanded(new Set());
    if (scroller.current) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [props.resetKey]);

  useEffect(() => {
    heights.current.clear();
    setMeasured((n) => n + 1);
  }, [props.wrap]);

  useEffect(() => {
    const el = scroller.current!;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const hs = props.entries.map((e) => heights.current.get(e.id));
  const offs = offsets(hs, ESTIMATE);
  const win = visibleWindow(offs, scrollTop, viewport, MARGIN);
  const rows = props.entries.slice(win.first, win.last);

  // Measure what was rendered; a change re-renders with the real heights. Made during the first
  // render because the rows' effects, which start observing, run before this component's.
  const rowObserver = useRef<ResizeObserver | null>(null);
  const frame = useRef(0);
  if (rowObserver.current === null) {
    rowObserver.current = new ResizeObserver((items) => {
      let changed = false;
      for (const it of items) {
        const el = it.target as HTMLElement;
        const id = el.dataset.id;
        if (!id || !el.isConnected) continue;
        const h = el.getBoundingClientRect().height;
        if (h > 0 && heights.current.get(id) !== h) {
          heights.current.set(id, h);
          changed = true;
        }
      }
      if (changed && !frame.current) {
        frame.current = requestAnimationFrame(() => {
          frame.current = 0;
          setMeasured((n) => n + 1);
        });
      }
    });
  }
  useEffect(
    () => () => {
      cancelAnimationFrame(frame.current);
      rowObserver.current?.disconnect();
    },
    [],
  );

  // One window update per frame, however many scroll events the frame had.
  const scrollFrame = useRef(0);
  const onScroll = () => {
    if (scrollFrame.current) return;
    scrollFrame.current = requestAnimationFrame(() => {
      scrollFrame.current = 0;
      if (scroller.current) setScrollTop(scroller.current.scrollTop);
    });
  };
  useEffect(() => () => cancelAnimationFrame(scrollFrame.current), []);

  const toggle = (id: string) =>
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const focusRow = (index: number) => {
    const el = scroller.current?.querySelector<HTMLElement>(`[data-index="${index}"]`);
    if (el) {
      el.focus();
      el.scrollIntoView({ block: "nearest" });
    }
  };

  return (
    <div
      class={`logs-scroller${props.wrap ? " logs-wrap" : ""}`}
      ref={scroller}
      onScroll={onScroll}
    >
      <div role="treegrid" aria-label="Log lines" aria-rowcount={props.entries.length} class="logs-table" style={{ height: `${win.total}px` }}>
        <div role="rowgroup" class="logs-window" style={{ transform: `translateY(${win.top}px)` }}>
          {rows.map((e, i) => (
            <Row
              key={e.id}
              entry={e}
              index={win.first + i}
              open={expanded.has(e.id)}
              table={props}
              terms={terms}
              observer={rowObserver}
              onToggle={toggle}
              onFocusRow={focusRow}
            />
          ))}
        </div>
      </div>
    </div>
  );
}

interface RowProps {
  entry: LogEntry;
  index: number;
  open: boolean;
  table: LogTableProps;
  terms: LineFilterTerm[];
  observer: { current: ResizeObserver | null };
  onToggle: (id: string) => void;
  onFocusRow: (index: number) => void;
}

function Row({ entry: e, index, open, table, terms, observer, onToggle, onFocusRow }: RowProps) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = el.current!;
    const ro = observer.current;
    ro?.observe(node);
    return () => ro?.unobserve(node);
  }, []);
  const plain = stripAnsi(e.line);
  const ranges = terms.length ? highlightRanges(plain, terms) : [];
  const own = Object.entries(e.stream).filter(([k]) => !table.common.has(k));
  return (
    <div
      ref={el}
      role="row"
      tabIndex={0}
      aria-rowindex={index + 1}
      aria-expanded={open}
      aria-level={1}
      data-id={e.id}
      data-index={index}
      class={`logs-row logs-level-${e.level}${open ? " logs-row-open" : ""}`}
      onClick={(ev) => {
        const t = ev.target as HTMLElement;
        if (t.closest("button, a, input, select, .logs-details")) return;
        if ((window.getSelection()?.toString() ?? "") !== "") return; // selecting text, not toggling
        onToggle(e.id);
      }}
      onKeyDown={(ev) => {
        if (ev.target !== ev.currentTarget) return;
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          onToggle(e.id);
        } else if (ev.key === "ArrowDown") {
          ev.preventDefault();
          onFocusRow(index + 1);
        } else if (ev.key === "ArrowUp") {
          ev.preventDefault();
          onFocusRow(index - 1);
        }
      }}
    >
      <div role="gridcell" class="logs-ts mono">
        {formatTimestamp(e.tsMs, table.utc)}
      </div>
      <div role="gridcell" class="logs-level">
        <span class="logs-level-dot" aria-hidden="true" />
        {e.level}
      </div>
      <div role="gridcell" class="logs-line mono">
        {own.length > 0 && (
          <span class="logs-chips">
            {own.map(([k, v]) => (
              <LabelChip key={k} name={k} value={v} onLabel={table.onLabel} />
            ))}
          </span>
        )}
        <span class="logs-text">{renderLine(e.line, ranges, table.stripAnsi)}</span>
      </div>
      {open && (
        <div role="gridcell" class="logs-details-cell">
          <RowDetails entry={e} actions={table} />
        </div>
      )}
    </div>
  );
}
