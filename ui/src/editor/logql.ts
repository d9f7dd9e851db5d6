// LogQL for the query editor: Grafana's grammar (@grafana/lezer-logql) with highlighting, and
// autocomplete from the API (label names and values for the editor's range), pipeline stages,
// functions and aggregations. A language module gives the editor its extensions; PromQL will be
// another such module.
import { pickedCompletion, type Completion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { LanguageSupport, LRLanguage } from "@codemirror/language";
import type { EditorView } from "@codemirror/view";
import { parser } from "@grafana/lezer-logql";
import { styleTags, tags as t } from "@lezer/highlight";
import type { LabelSource } from "./labels";
import { AGGREGATIONS, logqlContext, RANGE_FUNCTIONS, valueLiteral } from "./logqlContext";

export const logqlLanguage = LRLanguage.define({
  name: "logql",
  parser: parser.configure({
    props: [
      styleTags({
        "Json Logfmt Unpack Pattern Regexp Unwrap LabelFormat LineFormat Decolorize Drop Keep": t.keyword,
        "By Without On Ignoring GroupLeft GroupRight Bool Offset And Or Unless": t.keyword,
        "Sum Avg Count Max Min Stddev Stdvar Bottomk Topk Sort Sort_Desc": t.function(t.name),
        "CountOverTime Rate RateCounter BytesOverTime BytesRate AvgOverTime SumOverTime MinOverTime MaxOverTime": t.function(t.name),
        "StddevOverTime StdvarOverTime QuantileOverTime FirstOverTime LastOverTime AbsentOverTime": t.function(t.name),
        "BytesConv DurationConv DurationSecondsConv Ip LabelReplace Vector": t.function(t.name),
        Identifier: t.labelName,
        String: t.string,
        Number: t.number,
        "Duration Bytes": t.unit,
        "Eq Neq Re Nre Gtr Gte Lss Lte Eql Add Sub Mul Div Mod Pow": t.operator,
        "Pipe PipeExact PipeMatch PipePattern Npa": t.controlOperator,
        // `!=` and `!~` are line filters after a selector, matchers inside one.
        "Filter/Neq Filter/Nre": t.controlOperator,
        LineComment: t.lineComment,
      }),
    ],
  }),
  languageData: { commentTokens: { line: "#" }, closeBrackets: { brackets: ["(", "[", "{", '"', "`"] } },
});

interface Snippet {
  label: string;
  /** What is inserted; `cursor` characters from its end is where the cursor lands. */
  insert: string;
  cursor?: number;
  detail: string;
  /** Line filters replace the `|` they follow (`|=`, `!=`...); stages go after it. */
  replacesPipe?: boolean;
}

const STAGES: Snippet[] = [
  { label: "json", insert: "json", detail: "parse JSON fields into labels" },
  { label: "logfmt", insert: "logfmt", detail: "parse logfmt key=value pairs" },
  { label: "regexp", insert: 'regexp ""', cursor: 1, detail: "extract labels with named groups" },
  { label: "pattern", insert: 'pattern ""', cursor: 1, detail: "extract labels with <name> patterns" },
  { label: "unpack", insert: "unpack", detail: "unpack labels packed by Promtail's pack" },
  { label: "line_format", insert: 'line_format ""', cursor: 1, detail: "rewrite the line with a template" },
  { label: "label_format", insert: "label_format ", detail: "rename or template labels: new=old" },
  { label: "drop", insert: "drop ", detail: "remove labels" },
  { label: "keep", insert: "keep ", detail: "keep only these labels" },
  { label: "decolorize", insert: "decolorize", detail: "strip ANSI colour codes" },
  { label: "unwrap", insert: "unwrap ", detail: "use a label's value as the sample" },
  { label: "|=", insert: '|= ""', cursor: 1, replacesPipe: true, detail: "line contains" },
  { label: "!=", insert: '!= ""', cursor: 1, replacesPipe: true, detail: "line does not contain" },
  { label: "|~", insert: '|~ ""', cursor: 1, replacesPipe: true, detail: "line matches a regex" },
  { label: "!~", insert: '!~ ""', cursor: 1, replacesPipe: true, detail: "line does not match a regex" },
  { label: "|>", insert: '|> ""', cursor: 1, replacesPipe: true, detail: "line matches a pattern" },
  { label: "!>", insert: '!> ""', cursor: 1, replacesPipe: true, detail: "line does not match a pattern" },
  { label: "ip()", insert: '|= ip("")', cursor: 2, replacesPipe: true, detail: "lines with an IP in a CIDR range" },
];

const RANGE_DETAILS: Record<(typeof RANGE_FUNCTIONS)[number], string> = {
  count_over_time: "entries in each range",
  rate: "entries per second",
  bytes_over_time: "bytes in each range",
  bytes_rate: "bytes per second",
  sum_over_time: "sum of unwrapped values",
  avg_over_time: "average of unwrapped values",
  max_over_time: "largest unwrapped value",
  min_over_time: "smallest unwrapped value",
  first_over_time: "first unwrapped value",
  last_over_time: "last unwrapped value",
  stdvar_over_time: "variance of unwrapped values",
  stddev_over_time: "standard deviation of unwrapped values",
  quantile_over_time: "φ-quantile of unwrapped values",
  absent_over_time: "1 when a range has no entries",
  rate_counter: "per-second rate of an unwrapped counter",
};

const AGGREGATION_DETAILS: Record<(typeof AGGREGATIONS)[number], string> = {
  sum: "sum over series",
  avg: "average over series",
  min: "smallest over series",
  max: "largest over series",
  count: "number of series",
  stddev: "standard deviation over series",
  stdvar: "variance over series",
  topk: "the k largest series",
  bottomk: "the k smallest series",
  sort: "series sorted ascending",
  sort_desc: "series sorted descending",
  approx_topk: "approximate k largest series",
};

const FUNCTIONS: Snippet[] = [
  ...RANGE_FUNCTIONS.map((f) => ({ label: f, insert: `${f}()`, cursor: 1, detail: RANGE_DETAILS[f] })),
  ...AGGREGATIONS.map((f) => ({ label: f, insert: `${f}()`, cursor: 1, detail: AGGREGATION_DETAILS[f] })),
];

const GROUPING: Snippet[] = [
  { label: "by", insert: "by ()", cursor: 1, detail: "keep these labels" },
  { label: "without", insert: "without ()", cursor: 1, detail: "drop these labels" },
];

function snippetOption(s: Snippet, type: string, boost = 0): Completion {
  return {
    label: s.label,
    boost,
    detail: s.detail,
    type,
    apply: (view: EditorView, completion: Completion, from: number, to: number) => {
      const state = view.state;
      let start = from;
      let insert = s.insert;
      if (s.replacesPipe) {
        const ctx = logqlContext(state.doc.toString(), to);
        if (ctx?.kind === "pipeline") start = ctx.pipeFrom;
      } else if (state.sliceDoc(start - 1, start) === "|") {
        insert = " " + insert;
      }
      const end = start + insert.length - (s.cursor ?? 0);
      view.dispatch({
        changes: { from: start, to, insert },
        selection: { anchor: end },
        userEvent: "input.complete",
        annotations: pickedCompletion.of(completion),
      });
    },
  };
}

function valueOption(value: string): Completion {
  return {
    label: value,
    type: "text",
    apply: (view: EditorView, completion: Completion, _from: number, to: number) => {
      // Where the value goes is read again now: the user may have typed on since the look-up.
      const ctx = logqlContext(view.state.doc.toString(), to);
      if (ctx?.kind !== "labelValue") return;
      const insert = valueLiteral(value, ctx.op);
      view.dispatch({
        changes: { from: ctx.replaceFrom, to: Math.max(ctx.to, to), insert },
        selection: { anchor: ctx.replaceFrom + insert.length },
        userEvent: "input.complete",
        annotations: pickedCompletion.of(completion),
      });
    },
  };
}

/** The completion source: what `logqlContext` says goes at the cursor, with the API's labels. */
export function logqlCompletion(labels: LabelSource) {
  return async (cx: CompletionContext): Promise<CompletionResult | null> => {
    const ctx = logqlContext(cx.state.doc.toString(), cx.pos);
    if (!ctx) return null;
    switch (ctx.kind) {
      case "labelName":
      case "groupingLabel": {
        const names = await labels.names(ctx.kind === "labelName" ? ctx.selector : undefined);
        if (!names || cx.aborted) return null;
        return { from: ctx.from, options: names.map((n) => ({ label: n, type: "property" })), validFor: /^\w*$/ };
      }
      case "labelValue": {
        const values = await labels.values(ctx.label, ctx.selector);
        if (!values || cx.aborted) return null;
        return { from: ctx.from, options: values.map(valueOption), validFor: /^[^"`,{}]*$/ };
      }
      case "pipeline": {
        // In the order of the list: parsers first, line filters last; but right after a `|`
        // with no space (`{app="x"} |`), the line filters (`|=`, `|~`...) come first.
        const filtersFirst = ctx.from === ctx.pipeFrom + 1;
        const rank = (s: Snippet, i: number) => STAGES.length - i + (filtersFirst && s.replacesPipe ? STAGES.length : 0);
        return {
          from: ctx.from,
          options: STAGES.map((s, i) => snippetOption(s, s.replacesPipe ? "keyword" : "function", rank(s, i))),
          validFor: /^\w*$/,
        };
      }
      case "expression":
        if (!cx.explicit && ctx.from === cx.pos) return null;
        return { from: ctx.from, options: FUNCTIONS.map((s) => snippetOption(s, "function")), validFor: /^\w*$/ };
      case "grouping":
        if (!cx.explicit && ctx.from === cx.pos) return null;
        return { from: ctx.from, options: GROUPING.map((s) => snippetOption(s, "keyword")), validFor: /^\w*$/ };
    }
  };
}

export function logql(labels: LabelSource) {
  return {
    support: new LanguageSupport(logqlLanguage),
    completion: logqlCompletion(labels),
  };
}
