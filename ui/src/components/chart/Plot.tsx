// The one uPlot wrapper behind every chart: lazy loading, theme colours (redrawn on the
// `heron:theme` event), resizing with the container, stacking, a legend that isolates a
// series on click, hover values, and drag-to-zoom. Charts hand it aligned data.
import type { ComponentChildren } from "preact";
import type uPlotType from "uplot";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { formatTimestamp } from "../../lib/time";
import { cssVar } from "../../lib/theme";
import { formatValue, stack } from "./data";
import { loadUPlot, type UPlot } from "./uplot";
import "./chart.css";

export interface PlotSeries {
  name: string;
  color: string; // a CSS colour or a CSS variable name (`--level-error`)
  values: (number | null)[];
}

export interface PlotProps {
  xs: number[]; // epoch ms, ascending; for bars the end of each bucket
  series: PlotSeries[];
  start: number;
  end: number;
  kind: "line" | "bars";
  stacked: boolean;
  step?: number; // ms; bars span (x - step, x]
  unit?: string;
  onZoom?: (start: number, end: number) => void;
  height: number;
  ariaLabel: string;
  summary: string;
  /** Extra content after series i's legend button. */
  legendExtra?: (index: number) => ComponentChildren;
}

let nextId = 0;

function swatch(color: string): string {
  return color.startsWith("--") ? `var(${color})` : color;
}

function resolve(color: string): string {
  return color.startsWith("--") ? cssVar(color) || "#888888" : color;
}

/** A colour with alpha, for line-chart fills (works for #rgb/#rrggbb; other colours as is). */
function translucent(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
  const a = Math.round(alpha * 255)
    .toString(16)
    .padStart(2, "0");
  return `#${hex}${a}`;
}

function useThemeKey(): number {
  const [key, setKey] = useState(0);
  useEffect(() => {
    const on = () => setKey((k) => k + 1);
    window.addEventListener("heron:theme", on);
    const mq = window.matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", on);
    return () => {
      window.removeEventListener("heron:theme", on);
      mq.removeEventListener("change", on);
    };
  }, []);
  return key;
}

interface Hover {
  idx: number;
  left: number;
  top: number;
}

export function Plot(props: PlotProps) {
  const { xs, series, kind, stacked, step = 0, unit, height, ariaLabel, summary } = props;
  const [ctor, setCtor] = useState<UPlot | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [isolated, setIsolated] = useState<string | null>(null);
  const [hover, setHover] = useState<Hover | null>(null);
  const themeKey = useThemeKey();
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlotType | null>(null);
  const built = useRef<string>("");
  const live = useRef(props);
  live.current = props;
  const [id] = useState(() => `chart-${++nextId}`);

  useEffect(() => {
    let on = true;
    loadUPlot()
      .then((u) => on && setCtor(() => u))
      .catch((e) => on && setLoadError(`the chart library could not be loaded (${e})`));
    return () => {
      on = false;
    };
  }, []);

  // An isolated series that went away (new results) shows everything again.
  const shown = useMemo(() => {
    const only = isolated !== null ? series.filter((s) => s.name === isolated) : [];
    return only.length ? only : series;
  }, [series, isolated]);

  // What uPlot draws. Stacked: running sums, drawn from the top of the stack down so that
  // each opaque layer covers the one above it below its own line.
  const drawn = useMemo(() => {
    if (!stacked) return shown.map((s) => ({ name: s.name, color: s.color, values: s.values }));
    const sums = stack(shown.map((s) => s.values));
    return shown.map((s, i) => ({ name: s.name, color: s.color, values: sums[i] as (number | null)[] })).reverse();
  }, [shown, stacked]);

  const structure = JSON.stringify([kind, stacked, unit, height, themeKey, !!props.onZoom, drawn.map((d) => [d.name, d.color])]);

  useEffect(() => {
    const el = box.current;
    if (!ctor || !el) return;
    if (xs.length === 0) {
      plot.current?.destroy();
      plot.current = null;
      built.current = "";
      return;
    }
    const xData = kind === "bars" ? xs.map((t) => t - step / 2) : xs;
    const data = [xData, ...drawn.map((d) => d.values)] as uPlotType.AlignedData;
    if (plot.current && built.current === structure) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    const fg = cssVar("--fg-muted");
    const grid = cssVar("--border");
    const axis = (values: uPlotType.Axis["values"]): uPlotType.Axis => ({
      stroke: fg,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: "12px system-ui, sans-serif",
      values,
    });
    const bars = kind === "bars" ? ctor.paths.bars!({ size: [0.9, 64], align: 0 }) : undefined;
    const opts: uPlotType.Options = {
      width: Math.max(120, el.clientWidth),
      height,
      ms: 1,
      legend: { show: false },
      cursor: {
        drag: { x: !!live.current.onZoom, y: false, setScale: false },
        points: { show: !stacked && kind === "line" },
        y: false,
      },
      scales: {
        x: { time: true, range: () => [live.current.start, live.current.end] },
        y:
          stacked || kind === "bars"
            ? { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] }
            : { auto: true },
      },
      axes: [
        axis(undefined),
        { ...axis((_u, splits) => splits.map((v) => formatValue(v, unit))), size: 64 },
      ],
      series: [
        {},
        ...drawn.map((d) => {
          const c = resolve(d.color);
          return {
            label: d.name,
            stroke: c,
            width: kind === "bars" ? 0 : 1.5,
            fill: kind === "bars" || stacked ? c : translucent(c, 0.12),
            paths: bars,
            points: { show: false },
            spanGaps: false,
          } as uPlotType.Series;
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            const zoom = live.current.onZoom;
            if (zoom && u.select.width > 3) {
              const a = u.posToVal(u.select.left, "x");
              const b = u.posToVal(u.select.left + u.select.width, "x");
              zoom(Math.round(a), Math.round(b));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            const left = u.cursor.left ?? -1;
            setHover(idx == null || left < 0 ? null : { idx, left, top: u.cursor.top ?? 0 });
          },
        ],
      },
    };
    plot.current = new ctor(opts, data, el);
    built.current = structure;
  }, [ctor, structure, xs, drawn]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      const w = Math.max(120, el.clientWidth);
      if (plot.current && plot.current.width !== w) plot.current.setSize({ width: w, height: live.current.height });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(
    () => () => {
      plot.current?.destroy();
      plot.current = null;
    },
    [],
  );

  const over = plot.current?.over;
  const tip =
    hover && over && hover.idx < xs.length ? (
      <div
        class="chart-tooltip"
        aria-hidden="true"
        style={{
          left: `${over.offsetLeft + hover.left + (hover.left > over.clientWidth / 2 ? -12 : 12)}px`,
          top: `${over.offsetTop + Math.min(hover.top, over.clientHeight - 40)}px`,
          transform: hover.left > over.clientWidth / 2 ? "translateX(-100%)" : undefined,
        }}
      >
        <div class="chart-tooltip-time">
          {kind === "bars" && step
            ? `${formatTimestamp(xs[hover.idx] - step, false).slice(11, 19)}–${formatTimestamp(xs[hover.idx], false).slice(11, 19)}`
            : formatTimestamp(xs[hover.idx], false).slice(0, 19)}
        </div>
        {shown.map((s) => (
          <div class="chart-tooltip-row">
            <span class="chart-swatch" style={{ background: swatch(s.color) }} />
            <span class="chart-tooltip-name">{s.name}</span>
            <span class="chart-tooltip-value">{s.values[hover.idx] == null ? "–" : formatValue(s.values[hover.idx] as number, unit)}</span>
          </div>
        ))}
      </div>
    ) : null;

  return (
    <div class="chart">
      {loadError ? (
        <p class="chart-message error" role="alert">
          {loadError}
        </p>
      ) : (
        <div class="chart-plot-wrap" onMouseLeave={() => setHover(null)}>
          <div
            ref={box}
            class="chart-plot"
            role="img"
            aria-label={ariaLabel}
            aria-describedby={`${id}-summary`}
            style={{ minHeight: `${height}px` }}
          />
          {tip}
        </div>
      )}
      <p id={`${id}-summary`} class="sr-only">
        {summary}
      </p>
      {series.length > 0 && (
        <ul class="chart-legend" aria-label={`${ariaLabel}: legend`}>
          {series.map((s, i) => {
            const active = isolated === s.name && shown.length === 1;
            const dim = isolated !== null && shown.length === 1 && !active;
            return (
              <li>
                <button
                  type="button"
                  class={`chart-legend-item${dim ? " chart-legend-dim" : ""}`}
                  aria-pressed={active}
                  title={active ? "Show all series" : "Show only this series"}
                  onClick={() => setIsolated(active ? null : s.name)}
                >
                  <span
                    class="chart-swatch"
                    aria-hidden="true"
                    style={{ background: swatch(s.color) }}
                  />
                  {s.name}
                </button>
                {props.legendExtra?.(i)}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
