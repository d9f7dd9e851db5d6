// Which rows of a long list to render: the ones in the viewport plus a margin, from measured
// heights (rows not measured yet count as `estimate`). Pure, so the page's scroll handler and
// the tests share it.

export interface Window {
  first: number; // index of the first row to render
  last: number; // index past the last row to render
  top: number; // px above `first` (the top spacer)
  total: number; // px of all rows
}

/** Prefix offsets: offsets[i] is the top of row i, offsets[n] the total height. */
export function offsets(heights: (number | undefined)[], estimate: number): number[] {
  const out = new Array<number>(heights.length + 1);
  out[0] = 0;
  for (let i = 0; i < heights.length; i++) out[i + 1] = out[i] + (heights[i] ?? estimate);
  return out;
}

/** The first index whose row ends below `y` (binary search over the prefix offsets). */
function rowAt(offs: number[], y: number): number {
  let lo = 0;
  let hi = offs.length - 2;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offs[mid + 1] <= y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function visibleWindow(offs: number[], scrollTop: number, viewport: number, margin: number): Window {
  const n = offs.length - 1;
  const total = offs[n] ?? 0;
  if (n <= 0) return { first: 0, last: 0, top: 0, total: 0 };
  const first = rowAt(offs, Math.max(0, scrollTop - margin));
  let last = rowAt(offs, scrollTop + viewport + margin) + 1;
  last = Math.min(n, Math.max(last, first + 1));
  return { first, last, top: offs[first], total };
}
