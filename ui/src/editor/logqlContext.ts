// What kind of thing goes at a position of a LogQL query: the rule behind the editor's
// autocomplete. The text before the cursor is read token by token (it is usually incomplete,
// where the grammar's error recovery says little), and Grafana's grammar (@grafana/lezer-logql)
// gives the complete matchers of the selector being edited, which narrow the label look-ups.
import { parser } from "@grafana/lezer-logql";
import type { SyntaxNode } from "@lezer/common";

export type MatchOp = "=" | "!=" | "=~" | "!~";

export type LogqlContext =
  /** Inside `{...}` where a label name goes; `selector` holds the complete matchers so far. */
  | { kind: "labelName"; from: number; selector?: string }
  /**
   * A label value after `name op`: `from` is where the typed value starts (after the quote if
   * one was typed), `[replaceFrom, to)` is what an accepted value replaces (the opening quote,
   * the value typed so far, and a closing quote right after the cursor).
   */
  | {
      kind: "labelValue";
      from: number;
      replaceFrom: number;
      to: number;
      label: string;
      op: MatchOp;
      selector?: string;
    }
  /** After `|`: a pipeline stage from `from`, or a line filter operator replacing `pipeFrom`. */
  | { kind: "pipeline"; from: number; pipeFrom: number }
  /** Where an expression starts: range functions and aggregations. */
  | { kind: "expression"; from: number }
  /** After an aggregation (`sum`, `sum(...)`): `by` or `without`. */
  | { kind: "grouping"; from: number }
  /** Inside `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`: label names. */
  | { kind: "groupingLabel"; from: number; selector?: string };

export const AGGREGATIONS = [
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "sort",
  "sort_desc",
  "approx_topk",
] as const;

export const RANGE_FUNCTIONS = [
  "count_over_time",
  "rate",
  "bytes_over_time",
  "bytes_rate",
  "sum_over_time",
  "avg_over_time",
  "max_over_time",
  "min_over_time",
  "first_over_time",
  "last_over_time",
  "stdvar_over_time",
  "stddev_over_time",
  "quantile_over_time",
  "absent_over_time",
  "rate_counter",
] as const;

const AGGREGATION_SET = new Set<string>(AGGREGATIONS);
const RANGE_FUNCTION_SET = new Set<string>(RANGE_FUNCTIONS);
const GROUPING_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const MATCH_OPS = new Set(["=", "!=", "=~", "!~"]);
const BINARY_OPS = new Set(["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless"]);
const TWO_CHAR_OPS = new Set(["!=", "=~", "!~", "|=", "|~", "|>", "!>", "==", ">=", "<="]);

interface Token {
  type: "ident" | "number" | "string" | "op";
  text: string;
  from: number;
  to: number;
}

interface Scan {
  tokens: Token[];
  /** An unterminated string at the end: where its quote is. */
  openString: number | null;
  inComment: boolean;
  /** The `{` of the selector the end of the text is inside, or null. */
  selectorFrom: number | null;
  /** The innermost open `(`: the token before it, lower-cased ("" when none). */
  parenOpener: string | null;
  /** For a trailing `)`: the token before the `(` it closed. */
  closedOpener: string | null;
}

const isIdentStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdent = (c: string) => /[A-Za-z0-9_]/.test(c);

function scan(text: string): Scan {
  const tokens: Token[] = [];
  const braces: number[] = [];
  const parens: string[] = [];
  let closedOpener: string | null = null;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === "#") {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return { tokens, openString: null, inComment: true, selectorFrom: null, parenOpener: null, closedOpener };
      i = nl + 1;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "`") {
      let j = i + 1;
      while (j < n && text[j] !== c) j += c === '"' && text[j] === "\\" ? 2 : 1;
      if (j >= n) {
        return {
          tokens,
          openString: i,
          inComment: false,
          selectorFrom: braces.length ? braces[braces.length - 1] : null,
          parenOpener: parens.length ? parens[parens.length - 1] : null,
          closedOpener: null,
        };
      }
      tokens.push({ type: "string", text: text.slice(i, j + 1), from: i, to: j + 1 });
      i = j + 1;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdent(text[j])) j++;
      tokens.push({ type: "ident", text: text.slice(i, j), from: i, to: j });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z.]/.test(text[j])) j++;
      tokens.push({ type: "number", text: text.slice(i, j), from: i, to: j });
      i = j;
      continue;
    }
    const two = text.slice(i, i + 2);
    const op = TWO_CHAR_OPS.has(two) ? two : c;
    const prev = tokens[tokens.length - 1];
    closedOpener = null;
    if (op === "{") braces.push(i);
    else if (op === "}") braces.pop();
    else if (op === "(") parens.push(prev ? prev.text.toLowerCase() : "");
    else if (op === ")") closedOpener = parens.pop() ?? null;
    tokens.push({ type: "op", text: op, from: i, to: i + op.length });
    i += op.length;
  }
  const last = tokens[tokens.length - 1];
  return {
    tokens,
    openString: null,
    inComment: false,
    selectorFrom: braces.length ? braces[braces.length - 1] : null,
    parenOpener: parens.length ? parens[parens.length - 1] : null,
    closedOpener: last && last.text === ")" ? closedOpener : null,
  };
}

function childOf(node: SyntaxNode, names: readonly string[]): SyntaxNode | null {
  for (let c = node.firstChild; c; c = c.nextSibling) if (names.includes(c.name)) return c;
  return null;
}

/**
 * The complete matchers of the selector whose `{` is at `braceFrom`, as a selector
 * (`{a="b", c=~"d"}`), leaving out the matcher at `pos` (the one being typed); undefined when
 * there is none (Loki refuses an empty selector as `query`).
 */
export function selectorSoFar(text: string, braceFrom: number, pos: number): string | undefined {
  const tree = parser.parse(text);
  let selector: SyntaxNode | null = null;
  tree.iterate({
    enter: (n) => {
      if (selector) return false;
      if (n.name === "Selector" && n.from === braceFrom) {
        selector = n.node;
        return false;
      }
      return n.from <= braceFrom && n.to >= braceFrom;
    },
  });
  if (!selector) return undefined;
  const matchers: string[] = [];
  (selector as SyntaxNode).cursor().iterate((n) => {
    if (n.name !== "Matcher") return true;
    if (n.from <= pos && pos <= n.to) return false;
    const id = childOf(n.node, ["Identifier"]);
    const op = childOf(n.node, ["Eq", "Neq", "Re", "Nre"]);
    const str = childOf(n.node, ["String"]);
    if (id && op && str && text[str.to - 1] === text[str.from] && str.to - str.from >= 2) {
      matchers.push(text.slice(id.from, id.to) + text.slice(op.from, op.to) + text.slice(str.from, str.to));
    }
    return false;
  });
  return matchers.length ? `{${matchers.join(", ")}}` : undefined;
}

/** How far an accepted label value replaces after the cursor: the rest of a word, and a quote. */
function valueEnd(text: string, pos: number, quoted: boolean): number {
  let j = pos;
  while (j < text.length && /[^\s"`,{}()|]/.test(text[j])) j++;
  if (quoted && (text[j] === '"' || text[j] === "`")) j++;
  return j;
}

/** A label value as the matcher's string: regex metacharacters escaped for `=~` and `!~`. */
export function valueLiteral(value: string, op: MatchOp): string {
  const v = op === "=~" || op === "!~" ? value.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&") : value;
  return JSON.stringify(v);
}

/** What kind of completion goes at `pos` in `text`, or null when nothing is offered there. */
export function logqlContext(text: string, pos: number): LogqlContext | null {
  const before = text.slice(0, pos);
  const s = scan(before);
  if (s.inComment) return null;
  const tokens = s.tokens;

  if (s.openString !== null) {
    const [name, op] = tokens.slice(-2);
    if (s.selectorFrom === null || !name || name.type !== "ident" || !op || !MATCH_OPS.has(op.text)) return null;
    return {
      kind: "labelValue",
      from: s.openString + 1,
      replaceFrom: s.openString,
      to: valueEnd(text, pos, true),
      label: name.text,
      op: op.text as MatchOp,
      selector: selectorSoFar(text, s.selectorFrom, pos),
    };
  }

  // The word being typed (a name touching the cursor) and the tokens before it.
  let word: Token | null = tokens[tokens.length - 1] ?? null;
  if (!word || word.to !== pos || (word.type !== "ident" && word.type !== "number")) word = null;
  const prev = word ? tokens.slice(0, -1) : tokens;
  const from = word ? word.from : pos;
  const last = prev[prev.length - 1];
  const beforeLast = prev[prev.length - 2];

  if (s.selectorFrom !== null) {
    if (!last) return null;
    if (last.text === "{" || last.text === ",") {
      if (word && word.type !== "ident") return null;
      return { kind: "labelName", from, selector: selectorSoFar(text, s.selectorFrom, pos) };
    }
    if (MATCH_OPS.has(last.text) && beforeLast?.type === "ident") {
      return {
        kind: "labelValue",
        from,
        replaceFrom: from,
        to: valueEnd(text, pos, false),
        label: beforeLast.text,
        op: last.text as MatchOp,
        selector: selectorSoFar(text, s.selectorFrom, pos),
      };
    }
    return null;
  }

  if (word && word.type === "number") return null;
  if (s.parenOpener !== null && GROUPING_KEYWORDS.has(s.parenOpener) && last && (last.text === "(" || last.text === ",")) {
    return { kind: "groupingLabel", from };
  }
  if (last?.text === "|") return { kind: "pipeline", from, pipeFrom: last.from };
  if (last && (AGGREGATION_SET.has(last.text.toLowerCase()) || (last.text === ")" && AGGREGATION_SET.has(s.closedOpener ?? "")))) {
    return { kind: "grouping", from };
  }
  // Inside `rate(` goes a log range (`{...}[5m]`), not another function.
  if (s.parenOpener !== null && RANGE_FUNCTION_SET.has(s.parenOpener)) return null;
  if (!last || last.text === "(" || (last.text === "," && s.parenOpener !== null)) return { kind: "expression", from };
  // A binary operator between two metric expressions (`sum(...) / sum(...)`, `rate(...) > 0`);
  // after a name or a string, the same operators are label filters (`| status >= 400`).
  if (BINARY_OPS.has(last.text.toLowerCase()) && (beforeLast?.text === ")" || beforeLast?.type === "number")) {
    return { kind: "expression", from };
  }
  return null;
}
