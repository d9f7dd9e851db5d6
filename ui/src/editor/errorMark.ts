// The API's parse error, marked in the editor: from the error's column to the end of the token
// there (at least one character). The mark goes away with the first change to the text.
import { StateEffect, StateField } from "@codemirror/state";
import { Decoration, EditorView, type DecorationSet } from "@codemirror/view";

const WORD = /[A-Za-z0-9_.:]/;
const OPERATOR = /[|!=~<>+\-*/%^]/;

function tokenEnd(text: string, pos: number): number {
  const c = text[pos];
  if (c === '"' || c === "`") {
    let j = pos + 1;
    while (j < text.length && text[j] !== c && text[j] !== "\n") j += c === '"' && text[j] === "\\" ? 2 : 1;
    return Math.min(text.length, j + 1);
  }
  const cls = WORD.test(c) ? WORD : OPERATOR.test(c) ? OPERATOR : null;
  if (!cls) return pos + 1;
  let j = pos + 1;
  while (j < text.length && cls.test(text[j])) j++;
  return j;
}

function tokenStart(text: string, end: number): number {
  const c = text[end - 1];
  const cls = WORD.test(c) ? WORD : OPERATOR.test(c) ? OPERATOR : null;
  if (c === '"' || c === "`") {
    let j = end - 2;
    while (j >= 0 && text[j] !== c) j--;
    return Math.max(0, j);
  }
  if (!cls) return end - 1;
  let j = end - 1;
  while (j > 0 && cls.test(text[j - 1])) j--;
  return j;
}

/**
 * The span a parse error at (1-based) `line`, `col` points at. Past the end of the text (Loki's
 * "unexpected $end" points one past the last character), it is the last token; null for an
 * empty text.
 */
export function errorSpan(text: string, line: number, col: number): { from: number; to: number } | null {
  if (text.trim() === "") return null;
  const lines = text.split("\n");
  const l = Math.min(Math.max(1, line), lines.length);
  let pos = 0;
  for (let i = 0; i < l - 1; i++) pos += lines[i].length + 1;
  pos = Math.min(pos + Math.max(1, col) - 1, text.length);
  while (pos < text.length && /\s/.test(text[pos])) pos++;
  if (pos >= text.length) {
    let end = text.length;
    while (end > 0 && /\s/.test(text[end - 1])) end--;
    return { from: tokenStart(text, end), to: end };
  }
  return { from: pos, to: tokenEnd(text, pos) };
}

/** The message without the position it starts with (shown beside it as "line L, column C"). */
export function errorMessageText(message: string): string {
  return message.replace(/ at line \d+, col \d+(?=:)/, "");
}

export const setErrorMark = StateEffect.define<{ from: number; to: number } | null>();

const mark = Decoration.mark({ class: "query-editor-error-mark", attributes: { "aria-invalid": "true" } });

export const errorMarkField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) {
      if (e.is(setErrorMark)) {
        deco = e.value ? Decoration.set([mark.range(e.value.from, e.value.to)]) : Decoration.none;
      }
    }
    return tr.docChanged ? Decoration.none : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});
