// PromQL for the query editor: Prometheus' own language support (@prometheus-io/codemirror-promql:
// its lezer grammar, its linter and its completion), with completion read from Heron's
// Prometheus-compatible API (/api/v1/labels, /label/__name__/values, /series, /metadata).
import type { CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import type { Extension } from "@codemirror/state";
import { tags as t } from "@lezer/highlight";
import { PromQLExtension } from "@prometheus-io/codemirror-promql";
import type { LabelSource } from "./labels";

/** How far back completion looks for metric names and labels (Prometheus' own UI: 12h). */
export const COMPLETION_LOOKBACK_MS = 12 * 3_600_000;

/** How long completion reuses what the API said (metric names, label values). */
export const COMPLETION_CACHE_MS = 30_000;

/**
 * The grammar's tags that the shared highlight style (highlight.ts, LogQL's tags) leaves out:
 * comments are `comment`, not `lineComment`, and metric names are `variableName`.
 */
const promqlHighlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: t.comment, color: "var(--editor-comment)", fontStyle: "italic" },
    { tag: t.variableName, color: "var(--editor-function)" },
  ]),
);

export interface PromqlOptions {
  /** Where the API is (tests point it elsewhere); the page's own origin by default. */
  url?: string;
  /** Completion look-ups that fail give no options; this hears why (the editor ignores it). */
  onError?: (error: unknown) => void;
}

/**
 * The editor's PromQL module. Completion is returned apart (the editor's `autocompletion`
 * overrides every language's source with the one its language gives), so the extension's own
 * completion hook is switched off and its strategy is called directly. `_labels` is the
 * editor's LogQL label source, which PromQL does not read: Prometheus' client asks its own
 * endpoints.
 */
export function promql(_labels?: LabelSource, opts: PromqlOptions = {}) {
  const ext = new PromQLExtension()
    .setComplete({
      remote: {
        url: opts.url ?? "",
        httpMethod: "GET",
        lookbackInterval: COMPLETION_LOOKBACK_MS,
        cache: { maxAge: COMPLETION_CACHE_MS },
        httpErrorHandler: (e: unknown) => opts.onError?.(e),
      },
      maxMetricsMetadata: 10_000,
    })
    .activateCompletion(false);
  const support: Extension = [ext.asExtension(), promqlHighlight];
  const completion = (cx: CompletionContext): Promise<CompletionResult | null> | CompletionResult | null =>
    ext.getComplete().promQL(cx);
  return { support, completion, destroy: () => ext.destroy() };
}
