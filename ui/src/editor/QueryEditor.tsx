import { autocompletion, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, insertNewlineAndIndent } from "@codemirror/commands";
import { bracketMatching } from "@codemirror/language";
import { Annotation, Compartment, EditorState, Prec, type Extension } from "@codemirror/state";
import { EditorView, keymap, placeholder as placeholderExt } from "@codemirror/view";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMarkField, errorMessageText, errorSpan, setErrorMark } from "./errorMark";
import { queryHighlighting } from "./highlight";
import { createLabelSource, type LabelSource } from "./labels";
import { logql } from "./logql";
import { promql } from "./promql";
import "./editor.css";

/**
 * An API error about the query. With a 1-based line and column (as Loki's parse errors give
 * them) the bad span is marked; without (a limit, a timeout) only the message is shown.
 */
export interface EditorError {
  message: string;
  line?: number;
  col?: number;
}

export interface QueryEditorProps {
  value: string;
  onChange: (value: string) => void;
  /** Enter runs (Ctrl-Enter in multi-line mode); called with the editor's current text. */
  onRun: (value: string) => void;
  language: "logql" | "promql";
  ariaLabel: string;
  placeholder?: string;
  /** The time range autocomplete asks label values for (epoch ms). */
  range?: { start: number; end: number };
  error?: EditorError | null;
  /** Start in multi-line mode (it starts so anyway when the value has a newline). */
  multiLine?: boolean;
  /** Shift-Enter runs too, in both modes (the metrics explorer's key, as in Grafana). */
  shiftEnterRuns?: boolean;
}

/** Each query language is one module giving its grammar support and its completion source. */
const LANGUAGES = { logql, promql } satisfies Record<QueryEditorProps["language"], (labels: LabelSource) => unknown>;

/** Marks the editor's own updates from `value` (not the user's edits: they dismiss an error). */
const fromProps = Annotation.define<boolean>();

const errorKey = (e: EditorError | null | undefined) => (e ? `${e.line}:${e.col}:${e.message}` : null);

export function QueryEditor(props: QueryEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const mode = useRef(new Compartment());
  const [multiLine, setMultiLine] = useState(() => Boolean(props.multiLine) || props.value.includes("\n"));
  const multiRef = useRef(multiLine);
  multiRef.current = multiLine;
  // The error shown: hidden once the text changes, shown again for a new error or a new run.
  const [shownError, setShownError] = useState<string | null>(null);
  const dismissed = useRef<string | null>(null);
  const echoes = useRef(new Set<string>());

  const modeExtensions = (multi: boolean): Extension => {
    const run = (v: EditorView) => {
      dismissed.current = null;
      latest.current.onRun(v.state.doc.toString());
      return true;
    };
    const toMulti = (v: EditorView) => {
      setMultiLine(true);
      return insertNewlineAndIndent(v);
    };
    const shiftRuns = Boolean(latest.current.shiftEnterRuns);
    return [
      Prec.high(
        keymap.of(
          multi
            ? [
                { key: "Enter", run: insertNewlineAndIndent, shift: shiftRuns ? run : insertNewlineAndIndent },
                { key: "Mod-Enter", run },
              ]
            : [
                { key: "Enter", run, shift: shiftRuns ? run : toMulti },
                { key: "Mod-Enter", run },
              ],
        ),
      ),
      EditorView.contentAttributes.of({ "aria-multiline": multi ? "true" : "false" }),
    ];
  };

  useEffect(() => {
    const labels = createLabelSource(() => latest.current.range);
    const lang = LANGUAGES[props.language](labels);
    view.current = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.value,
        extensions: [
          mode.current.of(modeExtensions(multiRef.current)),
          history(),
          closeBrackets(),
          bracketMatching(),
          lang.support,
          queryHighlighting,
          // At most 12 options in the page at once, and a list that never scrolls: the arrow
          // keys move a window over the rest (a listbox that scrolls would need to be focusable).
          autocompletion({ override: [lang.completion], icons: false, activateOnTypingDelay: 50, maxRenderedOptions: 12 }),
          keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap]),
          errorMarkField,
          placeholderExt(props.placeholder ?? ""),
          EditorView.lineWrapping,
          EditorView.contentAttributes.of({ "aria-label": props.ariaLabel }),
          EditorView.updateListener.of((u) => {
            if (!u.docChanged || u.transactions.some((tr) => tr.annotation(fromProps))) return;
            const text = u.state.doc.toString();
            echoes.current.add(text);
            if (echoes.current.size > 100) echoes.current.delete(echoes.current.values().next().value!);
            latest.current.onChange(text);
            const key = errorKey(latest.current.error);
            if (key) dismissed.current = key;
            setShownError(null);
          }),
        ],
      }),
    });
    return () => {
      view.current?.destroy();
      if ("destroy" in lang) lang.destroy(); // PromQL's client aborts its look-ups in flight
    };
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: mode.current.reconfigure(modeExtensions(multiLine)) });
  }, [multiLine]);

  useEffect(() => {
    const v = view.current;
    const doc = v?.state.doc.toString();
    // The parent re-renders after a few keystrokes at once, so `value` can be one the editor
    // reported a moment ago: an echo, not a change to apply.
    if (props.value === doc || echoes.current.has(props.value)) {
      if (props.value === doc) echoes.current.clear();
      return;
    }
    if (v) {
      echoes.current.clear();
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value }, annotations: fromProps.of(true) });
      if (props.value.includes("\n")) setMultiLine(true);
    }
  }, [props.value]);

  // A new error (or the same one after a run) is shown and marked; once the user edits the
  // text it stays hidden until the next run. Runs after the `value` effect above, so a value
  // and an error that arrive together are marked on the new text.
  const key = errorKey(props.error);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const e = props.error;
    if (!e || key === dismissed.current) {
      if (!e) dismissed.current = null;
      setShownError(null);
      v.dispatch({ effects: setErrorMark.of(null) });
      return;
    }
    setShownError(key);
    const span = e.line !== undefined && e.col !== undefined ? errorSpan(v.state.doc.toString(), e.line, e.col) : null;
    v.dispatch({ effects: setErrorMark.of(span) });
  }, [props.error, props.value]);

  const error = shownError !== null && shownError === key ? props.error : null;
  return (
    <div
      class="query-editor"
      data-query-editor
      tabIndex={-1}
      onFocus={(e) => {
        // The shell's `/` key may focus this root: the text is what should get it.
        if (e.target === e.currentTarget) view.current?.focus();
      }}
    >
      <div class="query-editor-row">
        <div class={`query-editor-input${error ? " query-editor-invalid" : ""}`} ref={host} />
        <button
          type="button"
          class="query-editor-mode"
          aria-pressed={multiLine}
          aria-label="Multi-line"
          title={
            multiLine
              ? `Multi-line: Enter adds a line, ${props.shiftEnterRuns ? "Shift-Enter or " : ""}Ctrl-Enter runs`
              : props.shiftEnterRuns
                ? "Single line: Enter or Shift-Enter runs"
                : "Single line: Enter runs, Shift-Enter adds a line"
          }
          onClick={() => {
            setMultiLine(!multiLine);
            view.current?.focus();
          }}
        >
          <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
            <path d="M2 3.5h12M2 8h12M2 12.5h7" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" fill="none" />
          </svg>
        </button>
      </div>
      {error && (
        <p class="query-editor-error" role="alert">
          {error.line !== undefined && (
            <>
              <span class="query-editor-error-where">
                line {error.line}, column {error.col}:
              </span>{" "}
            </>
          )}
          {errorMessageText(error.message)}
        </p>
      )}
    </div>
  );
}
