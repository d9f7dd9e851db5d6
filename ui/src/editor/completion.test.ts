import { CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { EditorState } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import type { LabelSource } from "./labels";
import { logqlCompletion } from "./logql";

function source(answers: { names?: string[] | null; values?: string[] | null } = {}) {
  const calls: string[] = [];
  const labels: LabelSource = {
    names: async (selector) => {
      calls.push(`names ${selector ?? ""}`);
      return answers.names === undefined ? ["app", "namespace"] : answers.names;
    },
    values: async (name, selector) => {
      calls.push(`values ${name} ${selector ?? ""}`);
      return answers.values === undefined ? ["checkout", "payments"] : answers.values;
    },
  };
  return { calls, complete: logqlCompletion(labels) };
}

async function complete(
  s: ReturnType<typeof source>,
  marked: string,
  explicit = false,
): Promise<CompletionResult | null> {
  const pos = marked.indexOf("¦");
  const doc = marked.slice(0, pos) + marked.slice(pos + 1);
  return s.complete(new CompletionContext(EditorState.create({ doc }), pos, explicit));
}

const labels = (r: CompletionResult | null) => r?.options.map((o) => o.label);

describe("logqlCompletion", () => {
  it("asks the API for names and values with the selector so far", async () => {
    const s = source();
    expect(labels(await complete(s, '{namespace="api", ¦'))).toEqual(["app", "namespace"]);
    expect(labels(await complete(s, '{namespace="api", app="¦"}'))).toEqual(["checkout", "payments"]);
    expect(s.calls).toEqual(['names {namespace="api"}', 'values app {namespace="api"}']);
  });

  it("gives nothing when the API fails", async () => {
    const s = source({ names: null, values: null });
    expect(await complete(s, "{¦")).toBeNull();
    expect(await complete(s, '{app="¦')).toBeNull();
  });

  it("lists stages first after `| `, line filters first right after `|`", async () => {
    const s = source();
    const sorted = (r: CompletionResult | null) =>
      [...(r?.options ?? [])].sort((a, b) => (b.boost ?? 0) - (a.boost ?? 0)).map((o) => o.label);
    const spaced = sorted(await complete(s, '{app="x"} | ¦'));
    expect(spaced.slice(0, 2)).toEqual(["json", "logfmt"]);
    expect(spaced.indexOf("|=")).toBeGreaterThan(spaced.indexOf("unwrap"));
    const touching = sorted(await complete(s, '{app="x"} |¦'));
    expect(touching.slice(0, 2)).toEqual(["|=", "!="]);
    expect(s.calls).toEqual([]);
  });

  it("offers functions and by/without once a word is started, or when asked", async () => {
    const s = source();
    expect(await complete(s, "¦")).toBeNull();
    expect(labels(await complete(s, "¦", true))).toContain("count_over_time");
    expect(labels(await complete(s, "ra¦"))).toEqual(expect.arrayContaining(["rate", "rate_counter", "sum", "approx_topk"]));
    expect(await complete(s, "sum ¦")).toBeNull();
    expect(labels(await complete(s, "sum b¦"))).toEqual(["by", "without"]);
  });
});
