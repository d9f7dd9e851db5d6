// Highlighting colours for every query language: standard lezer tags mapped to the editor's
// CSS variables (editor.css), so both themes follow the page's theme switch.
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";

export const queryHighlightStyle = HighlightStyle.define([
  { tag: t.keyword, color: "var(--editor-keyword)" },
  { tag: t.function(t.name), color: "var(--editor-function)" },
  { tag: t.labelName, color: "var(--editor-label)" },
  { tag: t.string, color: "var(--editor-string)" },
  { tag: [t.number, t.unit], color: "var(--editor-number)" },
  { tag: t.operator, color: "var(--editor-operator)" },
  { tag: t.controlOperator, color: "var(--editor-pipe)", fontWeight: "600" },
  { tag: t.lineComment, color: "var(--editor-comment)", fontStyle: "italic" },
  { tag: t.invalid, color: "var(--danger)" },
]);

export const queryHighlighting = syntaxHighlighting(queryHighlightStyle);
