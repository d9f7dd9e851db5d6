// The time range picker: a button showing the range, opening a popover with the quick ranges
// and absolute From/To inputs (anything parseTime reads), plus the auto-refresh select and a
// "Refresh now" button beside it.
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import type { TimeRange } from "../../lib/time";
import { PRESETS, rangeInputError, rangeLabel, timeInputError } from "./label";
import "./timerange.css";

export interface TimeRangePickerProps {
  range: TimeRange;
  refresh: string; // "" (off), "5s", "10s", "30s", "1m"
  onChange(range: TimeRange): void;
  onRefreshChange(refresh: string): void;
  onRefreshNow(): void;
}

export const REFRESH_CHOICES: { value: string; label: string }[] = [
  { value: "", label: "Off" },
  { value: "5s", label: "5s" },
  { value: "10s", label: "10s" },
  { value: "30s", label: "30s" },
  { value: "1m", label: "1m" },
];

let nextId = 0;

export function TimeRangePicker({ range, refresh, onChange, onRefreshChange, onRefreshNow }: TimeRangePickerProps) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState(range.from);
  const [to, setTo] = useState(range.to);
  const root = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const [id] = useState(() => `timerange-${++nextId}`);

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) trigger.current?.focus();
  };

  // A layout effect, so the listeners are in place by the time the popover can be seen: a
  // click outside right after it opens closes it, even on a busy machine.
  useLayoutEffect(() => {
    if (!open) return;
    setFrom(range.from);
    setTo(range.to);
    // Focus moves into the popover: the current quick range, else the first one.
    const current = panel.current?.querySelector<HTMLElement>('[aria-pressed="true"]');
    (current ?? panel.current?.querySelector<HTMLElement>("button"))?.focus();
    const onDown = (e: PointerEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) close(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        close(true);
      }
    };
    document.addEventListener("pointerdown", onDown, true);
    document.addEventListener("keydown", onKey, true);
    return () => {
      document.removeEventListener("pointerdown", onDown, true);
      document.removeEventListener("keydown", onKey, true);
    };
  }, [open]);

  const fromError = timeInputError(from);
  const toError = timeInputError(to);
  const pairError = fromError || toError ? null : rangeInputError(from, to);
  const apply = (r: TimeRange) => {
    onChange(r);
    close(true);
  };

  const label = rangeLabel(range);
  return (
    <div class="timerange" ref={root}>
      <button
        ref={trigger}
        type="button"
        class="timerange-button"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? `${id}-panel` : undefined}
        aria-label={`Time range: ${label}`}
        onClick={() => (open ? close(false) : setOpen(true))}
      >
        <span aria-hidden="true" class="timerange-icon">
          ◷
        </span>
        <span class="timerange-text">{label}</span>
      </button>
      <button type="button" class="timerange-refresh" aria-label="Refresh now" title="Refresh now" onClick={onRefreshNow}>
        <span aria-hidden="true">↻</span>
      </button>
      <select
        class="timerange-auto"
        aria-label="Auto-refresh"
        title="Auto-refresh"
        value={refresh}
        onChange={(e) => onRefreshChange((e.target as HTMLSelectElement).value)}
      >
        {REFRESH_CHOICES.map((c) => (
          <option value={c.value}>{c.value ? `Every ${c.label}` : "Auto off"}</option>
        ))}
      </select>
      {open && (
        <div ref={panel} id={`${id}-panel`} class="timerange-panel" role="dialog" aria-label="Choose a time range">
          <div class="timerange-presets" role="group" aria-label="Quick ranges">
            {PRESETS.map((p) => (
              <button
                type="button"
                aria-pressed={range.from === p.from && range.to === "now"}
                onClick={() => apply({ from: p.from, to: "now" })}
              >
                {p.label}
              </button>
            ))}
          </div>
          <form
            class="timerange-absolute"
            onSubmit={(e) => {
              e.preventDefault();
              if (!fromError && !toError && !pairError) apply({ from: from.trim(), to: to.trim() });
            }}
          >
            <label for={`${id}-from`}>From</label>
            <input
              id={`${id}-from`}
              class="mono"
              value={from}
              spellcheck={false}
              aria-invalid={fromError ? true : undefined}
              aria-describedby={fromError ? `${id}-from-error` : `${id}-hint`}
              onInput={(e) => setFrom((e.target as HTMLInputElement).value)}
            />
            {fromError && (
              <p id={`${id}-from-error`} class="timerange-error" role="alert">
                {fromError}
              </p>
            )}
            <label for={`${id}-to`}>To</label>
            <input
              id={`${id}-to`}
              class="mono"
              value={to}
              spellcheck={false}
              aria-invalid={toError ? true : undefined}
              aria-describedby={toError ? `${id}-to-error` : `${id}-hint`}
              onInput={(e) => setTo((e.target as HTMLInputElement).value)}
            />
            {toError && (
              <p id={`${id}-to-error`} class="timerange-error" role="alert">
                {toError}
              </p>
            )}
            {pairError && (
              <p class="timerange-error" role="alert">
                {pairError}
              </p>
            )}
            <p id={`${id}-hint`} class="timerange-hint">
              now, now-15m, now-1d/d, 2026-12-03T10:00:00Z or Unix seconds
            </p>
            <div class="timerange-actions">
              <button type="button" onClick={() => close(true)}>
                Cancel
              </button>
              <button type="submit" class="primary" disabled={!!(fromError || toError || pairError)}>
                Apply
              </button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}
