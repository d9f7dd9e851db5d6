// One log line as text: ANSI colours as classes (or stripped) and the query's line-filter
// matches in <mark>. Preact escapes every string, so a line can never become markup.
import type { JSX } from "preact";
import { parseAnsi, stripAnsi, type AnsiSegment } from "./ansi";

export function renderLine(line: string, ranges: [number, number][], strip: boolean): JSX.Element[] {
  const segments: AnsiSegment[] = strip ? [{ text: stripAnsi(line), classes: [] }] : parseAnsi(line);
  const out: JSX.Element[] = [];
  let pos = 0; // offset in the stripped text, which the ranges are computed on
  let r = 0;
  let key = 0;
  for (const seg of segments) {
    const cls = seg.classes.length ? seg.classes.join(" ") : undefined;
    const end = pos + seg.text.length;
    let at = pos;
    while (at < end) {
      while (r < ranges.length && ranges[r][1] <= at) r++;
      const range = ranges[r];
      if (range && range[0] <= at) {
        const stop = Math.min(end, range[1]);
        out.push(
          <mark key={key++} class={cls}>
            {seg.text.slice(at - pos, stop - pos)}
          </mark>,
        );
        at = stop;
      } else {
        const stop = Math.min(end, range ? range[0] : end);
        out.push(
          <span key={key++} class={cls}>
            {seg.text.slice(at - pos, stop - pos)}
          </span>,
        );
        at = stop;
      }
    }
    pos = end;
  }
  return out;
}
