import { describe, expect, it } from "vitest";
import { jsonFields, lineFields, logfmtFields, sanitizeKey } from "./fields";

describe("jsonFields", () => {
  it("flattens nested objects with _ and leaves arrays and nulls out", () => {
    expect(jsonFields('{"level":"info","req":{"path":"/a","ms":12},"tags":["x"],"n":null,"ok":true}')).toEqual([
      ["level", "info"],
      ["req_path", "/a"],
      ["req_ms", "12"],
      ["ok", "true"],
    ]);
  });
  it("sanitizes keys as Loki does", () => {
    expect(jsonFields('{"http.status":"500","1st":"a"}')).toEqual([
      ["http_status", "500"],
      ["_1st", "a"],
    ]);
  });
  it("is null for anything but an object", () => {
    expect(jsonFields("[1,2]")).toBeNull();
    expect(jsonFields("{not json")).toBeNull();
    expect(jsonFields("plain")).toBeNull();
  });
});

describe("logfmtFields", () => {
  it("reads bare and quoted values with escapes", () => {
    expect(logfmtFields('level=warn msg="served \\"x\\" 3" path=/a empty= status=304')).toEqual([
      ["level", "warn"],
      ["msg", 'served "x" 3'],
      ["path", "/a"],
      ["empty", ""],
      ["status", "304"],
    ]);
  });
  it("skips words that are not pairs and is null without any pair", () => {
    expect(logfmtFields("GET done took=3ms")).toEqual([["took", "3ms"]]);
    expect(logfmtFields("ERROR: checkpoint complete")).toBeNull();
  });
  it("sanitizes keys", () => {
    expect(logfmtFields("user.id=7")).toEqual([["user_id", "7"]]);
  });
});

describe("lineFields", () => {
  it("prefers JSON, falls back to logfmt", () => {
    expect(lineFields('{"a":"b=c"}')?.format).toBe("json");
    expect(lineFields("a=b")?.format).toBe("logfmt");
    expect(lineFields("nothing here")).toBeNull();
  });
  it("renames names that are labels already to _extracted and keeps the first of duplicates", () => {
    expect(lineFields("app=x level=info level=debug", new Set(["app"]))).toEqual({
      format: "logfmt",
      fields: [
        ["app_extracted", "x"],
        ["level", "info"],
      ],
    });
  });
  it("sanitizeKey trims and replaces", () => {
    expect(sanitizeKey(" a-b ")).toBe("a_b");
  });
});
