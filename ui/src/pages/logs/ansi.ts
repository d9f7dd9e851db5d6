// ANSI SGR colours in log lines (`\x1b[31m` and friends) as styled segments. The line stays
// text: segments carry class names that the page's CSS maps to theme variables, never HTML.
// Other escape sequences (cursor moves, erase line, OSC titles) are dropped.

export interface AnsiSegment {
  text: string;
  /** Class names for the segment: `logs-ansi-fg-red`, `logs-ansi-bg-blue`, `logs-ansi-bold`. */
  classes: string[];
}

const COLORS = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const plain = (): Style => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

function classesOf(s: Style): string[] {
  const out: string[] = [];
  if (s.fg) out.push(`logs-ansi-fg-${s.fg}`);
  if (s.bg) out.push(`logs-ansi-bg-${s.bg}`);
  if (s.bold) out.push("logs-ansi-bold");
  if (s.dim) out.push("logs-ansi-dim");
  if (s.italic) out.push("logs-ansi-italic");
  if (s.underline) out.push("logs-ansi-underline");
  return out;
}

/** The 16 named colours for a 256-colour index below 16; null for the rest (cube and greys). */
function indexed(n: number): string | null {
  if (n < 8) return COLORS[n];
  if (n < 16) return `bright-${COLORS[n - 8]}`;
  return null;
}

function applySgr(style: Style, params: number[]): void {
  if (params.length === 0) params = [0];
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) Object.assign(style, plain());
    else if (p === 1) style.bold = true;
    else if (p === 2) style.dim = true;
    else if (p === 3) style.italic = true;
    else if (p === 4) style.underline = true;
    else if (p === 22) style.bold = style.dim = false;
    else if (p === 23) style.italic = false;
    else if (p === 24) style.underline = false;
    else if (p >= 30 && p <= 37) style.fg = COLORS[p - 30];
    else if (p === 39) style.fg = null;
    else if (p >= 40 && p <= 47) style.bg = COLORS[p - 40];
    else if (p === 49) style.bg = null;
    else if (p >= 90 && p <= 97) style.fg = `bright-${COLORS[p - 90]}`;
    else if (p >= 100 && p <= 107) style.bg = `bright-${COLORS[p - 100]}`;
    else if (p === 38 || p === 48) {
      // 38;5;n (256 colours) or 38;2;r;g;b (true colour): only the 16 named ones map to the theme.
      const mode = params[i + 1];
      let color: string | null = null;
      if (mode === 5) {
        color = indexed(params[i + 2] ?? 0);
        i += 2;
      } else if (mode === 2) {
        i += 4;
      } else {
        i += 1;
      }
      if (p === 38) style.fg = color;
      else style.bg = color;
    }
  }
}

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), and two-character escapes.
const ESCAPE = /\x1b(?:\[([0-9;:?]*)([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])/g;

/** Split a line into styled segments; a line without escapes is one unstyled segment. */
export function parseAnsi(line: string): AnsiSegment[] {
  if (!line.includes("\x1b")) return [{ text: line, classes: [] }];
  const out: AnsiSegment[] = [];
  const style = plain();
  let last = 0;
  const push = (text: string) => {
    if (text === "") return;
    const classes = classesOf(style);
    const prev = out[out.length - 1];
    if (prev && prev.classes.join(" ") === classes.join(" ")) prev.text += text;
    else out.push({ text, classes });
  };
  for (const m of line.matchAll(ESCAPE)) {
    push(line.slice(last, m.index));
    last = m.index! + m[0].length;
    if (m[2] === "m" && m[1] !== undefined && !m[1].includes("?")) {
      const params = m[1] === "" ? [] : m[1].split(/[;:]/).map((x) => (x === "" ? 0 : Number(x)));
      applySgr(style, params);
    }
  }
  push(line.slice(last));
  // A lone ESC that starts no sequence is left out too.
  return out.map((s) => ({ ...s, text: s.text.replace(/\x1b/g, "") })).filter((s) => s.text !== "");
}

/** The line without any escape sequences (for "strip" mode, search and downloads). */
export function stripAnsi(line: string): string {
  if (!line.includes("\x1b")) return line;
  return line.replace(ESCAPE, "").replace(/\x1b/g, "");
}

export function hasAnsi(line: string): boolean {
  return line.includes("\x1b");
}
