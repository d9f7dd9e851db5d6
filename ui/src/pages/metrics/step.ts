// The range query's step: chosen from the chart's width unless the URL sets one, as
// Prometheus' own graph does (one point per pixel at most, never under a second).

/** Prometheus refuses a range query with more points than this per series. */
export const MAX_POINTS = 11_000;

export class StepError extends Error {}

/** About one point per pixel of the chart: `max(floor(range / width), 1s)`, whole seconds. */
export function autoStep(startMs: number, endMs: number, widthPx: number): number {
  const width = Math.max(1, Math.floor(widthPx));
  return Math.max(1, Math.floor((endMs - startMs) / width / 1000)) * 1000;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/**
 * A step as the URL or the step box holds it: a Prometheus duration (`30s`, `1m30s`, `1h`) or
 * a number of seconds (`15`, `0.5`). Throws StepError with a message a person can act on.
 */
export function parseStep(text: string): number {
  const t = text.trim();
  if (t === "") throw new StepError("empty step");
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) {
    ms = Math.round(Number(t) * 1000);
  } else if (/^(\d+(ms|s|m|h|d|w|y))+$/.test(t)) {
    ms = 0;
    for (const m of t.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  } else {
    throw new StepError(`not a step: "${text}" (use a duration such as 15s, 1m or 1h, or seconds)`);
  }
  if (!(ms > 0)) throw new StepError("the step must be more than zero");
  return ms;
}

/** Why a step cannot be used over a range (too many points), or null. */
export function stepProblem(startMs: number, endMs: number, stepMs: number): string | null {
  const points = Math.floor((endMs - startMs) / stepMs) + 1;
  if (points > MAX_POINTS) {
    return `a step of ${formatStep(stepMs)} gives ${points} points over this range; at most ${MAX_POINTS} (use a larger step)`;
  }
  return null;
}

/** A step for display: `15s`, `1m30s`, `2h`, `500ms`. */
export function formatStep(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
  let s = ms / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join("");
}
