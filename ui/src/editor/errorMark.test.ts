import { describe, expect, it } from "vitest";
import { errorMessageText, errorSpan } from "./errorMark";

const marked = (text: string, line: number, col: number) => {
  const s = errorSpan(text, line, col);
  return s ? text.slice(s.from, s.to) : null;
};

describe("errorSpan", () => {
  it("marks the token at the column", () => {
    expect(marked('sum(rate({a="b"}[5x]))', 1, 18)).toBe("5x");
    expect(marked('{app="x"} | foo | bar', 1, 13)).toBe("foo");
    expect(marked('{app="x"} |~ "a(" ', 1, 14)).toBe('"a("');
    expect(marked('{app="x"} |= "a" !! x', 1, 18)).toBe("!!");
    expect(marked("{app=x}", 1, 6)).toBe("x");
  });

  it("marks the last token when the error is at the end (unexpected $end)", () => {
    expect(marked('{app="x"} |=', 1, 13)).toBe("|=");
    expect(marked('{app="x"} | foo', 1, 16)).toBe("foo");
    expect(marked('{app="x"} |= "a"  ', 1, 19)).toBe('"a"');
    expect(marked("{", 1, 2)).toBe("{");
  });

  it("counts lines, and clamps a line or column past the text", () => {
    expect(marked('{app="x"}\n| json\n| a=', 3, 5)).toBe("=");
    expect(marked('{app="x"}\n| json\n| a=', 3, 3)).toBe("a");
    expect(marked('{app="x"}\n| json', 9, 1)).toBe("|");
    expect(marked('{app="x"}', 1, 99)).toBe("}");
  });

  it("marks a single character for punctuation, and nothing in an empty text", () => {
    expect(marked('{app="x"}}', 1, 10)).toBe("}");
    expect(errorSpan("  ", 1, 1)).toBeNull();
  });
});

describe("errorMessageText", () => {
  it("drops the position Loki's message starts with, and keeps any other message", () => {
    expect(errorMessageText("parse error at line 1, col 13: syntax error: unexpected $end")).toBe(
      "parse error: syntax error: unexpected $end",
    );
    expect(errorMessageText("query timed out")).toBe("query timed out");
  });
});
