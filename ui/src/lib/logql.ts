// Edits and questions about LogQL text, answered with Grafana's own grammar (@grafana/lezer-logql)
// rather than with regexes, so that a click on a label or a field changes exactly the right
// part of whatever query the user wrote.
import { parser } from "@grafana/lezer-logql";
import type { SyntaxNode, Tree } from "@lezer/common";

export type MatchOp = "=" | "!=" | "=~" | "!~";

function parse(query: string): Tree {
  return parser.parse(query);
}

function hasError(tree: Tree): boolean {
  let bad = false;
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) bad = true;
      return !bad;
    },
  });
  return bad;
}

function first(tree: Tree, name: string): SyntaxNode | null {
  let found: SyntaxNode | null = null;
  tree.iterate({
    enter: (n) => {
      if (found) return false;
      if (n.name === name) {
        found = n.node;
        return false;
      }
      return true;
    },
  });
  return found;
}

/** A LogQL string literal: double-quoted with Go escapes (what Loki's parser reads back). */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** True for a metric query (`rate(...)`, `sum by (...) (...)`), false for a log query. */
export function isMetricQuery(query: string): boolean {
  return first(parse(query), "MetricExpr") !== null;
}

/** The stream selector's text (`{app="x"}`), or null when there is none yet. */
export function selectorOf(query: string): string | null {
  const sel = first(parse(query), "Selector");
  return sel ? query.slice(sel.from, sel.to) : null;
}

/** True when the query is a stream selector alone: volume can come from the index then. */
export function isBareSelector(query: string): boolean {
  const tree = parse(query);
  if (hasError(tree)) return false;
  const sel = first(tree, "Selector");
  return sel !== null && first(tree, "PipelineExpr") === null && first(tree, "MetricExpr") === null;
}

/**
 * Add `name op "value"` to the stream selector; replaces an existing matcher on the same name
 * with the same operator family, so clicking twice does not stack matchers. An empty query
 * becomes `{name="value"}`.
 */
export function addMatcher(query: string, name: string, value: string, op: MatchOp = "="): string {
  const matcher = `${name}${op}${quote(value)}`;
  const trimmed = query.trim();
  if (trimmed === "") return `{${matcher}}`;
  const tree = parse(query);
  const sel = first(tree, "Selector");
  if (!sel) return `{${matcher}} ${trimmed}`;
  const matchers: { from: number; to: number; name: string; op: string; value: string }[] = [];
  const cursor = sel.cursor();
  cursor.iterate((n) => {
    if (n.name !== "Matcher") return true;
    const id = n.node.getChild("Identifier");
    const str = n.node.getChild("String");
    const opNode = id?.nextSibling;
    if (id && str && opNode) {
      matchers.push({
        from: n.from,
        to: n.to,
        name: query.slice(id.from, id.to),
        op: query.slice(opNode.from, opNode.to),
        value: query.slice(str.from, str.to),
      });
    }
    return false;
  });
  const same = matchers.find((m) => m.name === name && m.op === op);
  if (same) return query.slice(0, same.from) + matcher + query.slice(same.to);
  if (matchers.length === 0) return query.slice(0, sel.from) + `{${matcher}}` + query.slice(sel.to);
  const last = matchers[matchers.length - 1];
  return query.slice(0, last.to) + `, ${matcher}` + query.slice(last.to);
}

export type FieldParser = "json" | "logfmt" | "structured_metadata" | "label";

/**
 * Filter on a field: `| json | field="value"` (or logfmt), added after the parser stage if the
 * query has one already, else with it. Structured metadata and stored labels need no parser.
 * In a metric query, the filter goes into the innermost log pipeline.
 */
export function addFieldFilter(query: string, parserName: FieldParser, field: string, value: string, negate = false): string {
  const op = negate ? "!=" : "=";
  const filter = `${field}${op}${quote(value)}`;
  if (parserName === "label") return addMatcher(query, field, value, negate ? "!=" : "=");
  const tree = parse(query);
  const logRange = first(tree, "LogRangeExpr");
  // Where the log pipeline ends: the end of the LogRangeExpr's pipeline (before `[5m]`), or the
  // whole query for a log query.
  let end = query.length;
  if (logRange) {
    const range = logRange.getChild("Range");
    end = range ? range.from : logRange.to;
  }
  const head = query.slice(0, end).replace(/\s+$/, "");
  const tail = query.slice(end);
  const hasParser = parserName !== "structured_metadata" && new RegExp(`\\|\\s*${parserName}\\b`).test(head);
  const stage = parserName === "structured_metadata" || hasParser ? ` | ${filter}` : ` | ${parserName} | ${filter}`;
  return head + stage + (tail ? (tail.startsWith(" ") ? tail : " " + tail) : "");
}

export interface LineFilterTerm {
  kind: "contains" | "regex";
  text: string;
}

/** The positive line filters (`|=` and `|~`) whose matches the results should highlight. */
export function lineFilterTerms(query: string): LineFilterTerm[] {
  const tree = parse(query);
  const terms: LineFilterTerm[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.name !== "LineFilter") return true;
      const filter = n.node.getChild("Filter");
      const str = n.node.getChild("String");
      if (!filter || !str) return false;
      const opNode = filter.firstChild;
      const lit = unquote(query.slice(str.from, str.to));
      if (lit === null || lit === "") return false;
      if (opNode?.name === "PipeExact") terms.push({ kind: "contains", text: lit });
      else if (opNode?.name === "PipeMatch") terms.push({ kind: "regex", text: lit });
      return false;
    },
  });
  return terms;
}

/** A LogQL string literal's value: "..." with escapes, or `...` raw. Null if malformed. */
export function unquote(lit: string): string | null {
  if (lit.startsWith("`") && lit.endsWith("`") && lit.length >= 2) return lit.slice(1, -1);
  if (lit.startsWith('"') && lit.endsWith('"') && lit.length >= 2) {
    try {
      return JSON.parse(lit.replace(/\\([^"\\/bfnrtu])/g, "\\\\$1"));
    } catch {
      return null;
    }
  }
  return null;
}

/** Ranges [from, to) of `line` that the query's positive line filters match, merged and sorted. */
export function highlightRanges(line: string, terms: LineFilterTerm[]): [number, number][] {
  const out: [number, number][] = [];
  for (const t of terms) {
    if (t.kind === "contains") {
      for (let i = line.indexOf(t.text); i >= 0; i = line.indexOf(t.text, i + t.text.length)) out.push([i, i + t.text.length]);
    } else {
      let re: RegExp;
      try {
        re = new RegExp(t.text.replace(/^\(\?i\)/, ""), t.text.startsWith("(?i)") ? "gi" : "g");
      } catch {
        continue; // RE2 syntax JavaScript does not read: no highlight rather than a wrong one
      }
      for (const m of line.matchAll(re)) if (m[0].length > 0 && m.index !== undefined) out.push([m.index, m.index + m[0].length]);
    }
  }
  out.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([...r]);
  }
  return merged;
}
