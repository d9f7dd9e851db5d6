import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder as placeholderExt } from "@codemirror/view";
import { useEffect, useRef } from "preact/hooks";
import "./editor.css";

/** An API error pointed at the query: 1-based line and column, as Loki's messages give them. */
export interface EditorError {
  message: string;
  line: number;
  col: number;
}

export interface QueryEditorProps {
  value: string;
  onChange: (value: string) => void;
  /** Enter runs (Ctrl-Enter in multi-line mode); called with the editor's current text. */
  onRun: (value: string) => void;
  language: "logql";
  ariaLabel: string;
  placeholder?: string;
  /** The time range autocomplete asks label values for (epoch ms). */
  range?: { start: number; end: number };
  error?: EditorError | null;
}

export function QueryEditor(props: QueryEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const run = () => {
      latest.current.onRun(view.current!.state.doc.toString());
      return true;
    };
    view.current = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.value,
        extensions: [
          history(),
          keymap.of([{ key: "Enter", run }, { key: "Mod-Enter", run }, ...defaultKeymap, ...historyKeymap]),
          placeholderExt(props.placeholder ?? ""),
          EditorView.contentAttributes.of({ "aria-label": props.ariaLabel, "aria-multiline": "false" }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) latest.current.onChange(u.state.doc.toString());
          }),
        ],
      }),
    });
    return () => view.current?.destroy();
  }, []);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } });
    }
  }, [props.value]);

  return <div class="query-editor" data-query-editor ref={host} />;
}
