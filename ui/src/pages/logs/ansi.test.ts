import { describe, expect, it } from "vitest";
import { parseAnsi, stripAnsi } from "./ansi";

describe("parseAnsi", () => {
  it("leaves a plain line as one segment", () => {
    expect(parseAnsi("hello <b>")).toEqual([{ text: "hello <b>", classes: [] }]);
  });

  it("colours text between SGR codes and resets on 0", () => {
    expect(parseAnsi("a\x1b[31mred\x1b[0m b")).toEqual([
      { text: "a", classes: [] },
      { text: "red", classes: ["logs-ansi-fg-red"] },
      { text: " b", classes: [] },
    ]);
  });

  it("combines attributes and clears them one by one", () => {
    expect(parseAnsi("\x1b[1;4;32;44mx\x1b[22my\x1b[39;49;24mz")).toEqual([
      { text: "x", classes: ["logs-ansi-fg-green", "logs-ansi-bg-blue", "logs-ansi-bold", "logs-ansi-underline"] },
      { text: "y", classes: ["logs-ansi-fg-green", "logs-ansi-bg-blue", "logs-ansi-underline"] },
      { text: "z", classes: [] },
    ]);
  });

  it("reads bright colours and the 16 named colours of 256-colour codes", () => {
    expect(parseAnsi("\x1b[91ma\x1b[38;5;4mb\x1b[38;5;200mc")).toEqual([
      { text: "a", classes: ["logs-ansi-fg-bright-red"] },
      { text: "b", classes: ["logs-ansi-fg-blue"] },
      { text: "c", classes: [] },
    ]);
  });

  it("skips true-colour parameters without reading them as attributes", () => {
    // 38;2;1;2;3 would be bold (1) and dim (2) if the r;g;b were read as codes.
    expect(parseAnsi("\x1b[38;2;1;2;3mx")).toEqual([{ text: "x", classes: [] }]);
  });

  it("treats an empty SGR as reset and drops non-colour sequences", () => {
    expect(parseAnsi("\x1b[33mwarn\x1b[m \x1b[2K\x1b]0;title\x07done\x1b[?25l")).toEqual([
      { text: "warn", classes: ["logs-ansi-fg-yellow"] },
      { text: " done", classes: [] },
    ]);
  });

  it("never turns text into markup", () => {
    const segs = parseAnsi("\x1b[31m<script>alert(1)</script>");
    expect(segs).toEqual([{ text: "<script>alert(1)</script>", classes: ["logs-ansi-fg-red"] }]);
  });
});

describe("stripAnsi", () => {
  it("removes every escape", () => {
    expect(stripAnsi("\x1b[1;31mERROR\x1b[0m: \x1b[2Kdisk \x1b full")).toBe("ERROR: disk  full");
  });
  it("returns a plain line unchanged", () => {
    expect(stripAnsi("plain")).toBe("plain");
  });
});
