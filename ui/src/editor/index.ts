// The query editor: one CodeMirror 6 component for every query language in the UI. LogQL now;
// the metrics page adds PromQL (@prometheus-io/codemirror-promql) through `language`.
export { QueryEditor } from "./QueryEditor";
export type { QueryEditorProps, EditorError } from "./QueryEditor";
