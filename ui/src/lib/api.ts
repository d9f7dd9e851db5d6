// The UI reads only Heron's public HTTP APIs (the ones Grafana reads too). Every call goes
// through here so that errors have one shape and a server that is down raises the banner.
import { reportDown, reportUp } from "./health";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The server could not be reached at all (down, restarting, or the network is gone). */
export class ServerDownError extends Error {}

export type Params = Record<string, string | number | undefined>;

export function withParams(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function errorMessage(res: Response): Promise<string> {
  const text = (await res.text()).trim();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string") return body.error;
    if (body && typeof body.message === "string") return body.message;
  } catch {
    // not JSON: Loki-style plain-text errors
  }
  return text || `${res.status} ${res.statusText}`;
}

async function request(url: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (init.signal?.aborted) throw e;
    reportDown();
    throw new ServerDownError("the Heron server cannot be reached");
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) {
    // A proxy in front of a restarting server, or storage still replaying its WAL.
    reportDown();
  } else {
    reportUp();
  }
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return res;
}

export async function getJSON<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const res = await request(withParams(path, params), { signal, headers: { Accept: "application/json" } });
  return (await res.json()) as T;
}

export async function getText(path: string, params: Params = {}, signal?: AbortSignal): Promise<string> {
  const res = await request(withParams(path, params), { signal });
  return res.text();
}

/** Where a LogQL parse error points: `parse error at line 1, col 14: ...` (line 0 means 1). */
export function errorPosition(message: string): { line: number; col: number } | null {
  const m = /at line (\d+), col (\d+)/.exec(message);
  if (!m) return null;
  return { line: Math.max(1, Number(m[1])), col: Math.max(1, Number(m[2])) };
}

// ---- Loki API shapes (the parts the UI reads) ----

export type Labels = Record<string, string>;

export interface StreamResult {
  stream: Labels;
  values: [string, string, Labels?][] | [string, string, { structuredMetadata?: Labels; parsed?: Labels }?][];
}

export interface MatrixResult {
  metric: Labels;
  values: [number, string][];
}

export interface VectorResult {
  metric: Labels;
  value: [number, string];
}

export type QueryData =
  | { resultType: "streams"; result: StreamResult[] }
  | { resultType: "matrix"; result: MatrixResult[] }
  | { resultType: "vector"; result: VectorResult[] }
  | { resultType: "scalar"; result: [number, string] };

export interface QueryResponse {
  status: string;
  data: QueryData & { stats?: unknown };
}

export interface QueryRangeParams {
  query: string;
  start: number; // epoch ms
  end: number; // epoch ms
  limit?: number;
  direction?: "backward" | "forward";
  step?: number; // ms
}

const msToNs = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;

export { msToNs };

/** /loki/api/v1/query_range; start and end are ms and go out as ns (Loki's native unit). */
export function queryRange(p: QueryRangeParams, signal?: AbortSignal, extra: Params = {}): Promise<QueryResponse> {
  return getJSON<QueryResponse>(
    "/loki/api/v1/query_range",
    {
      query: p.query,
      start: msToNs(p.start),
      end: msToNs(p.end),
      limit: p.limit,
      direction: p.direction,
      step: p.step !== undefined ? `${p.step / 1000}` : undefined,
      ...extra,
    },
    signal,
  );
}

export async function labelNames(start: number, end: number, query?: string, signal?: AbortSignal): Promise<string[]> {
  const r = await getJSON<{ data?: string[] }>("/loki/api/v1/labels", { start: msToNs(start), end: msToNs(end), query }, signal);
  return r.data ?? [];
}

export async function labelValues(name: string, start: number, end: number, query?: string, signal?: AbortSignal): Promise<string[]> {
  const r = await getJSON<{ data?: string[] }>(
    `/loki/api/v1/label/${encodeURIComponent(name)}/values`,
    { start: msToNs(start), end: msToNs(end), query },
    signal,
  );
  return r.data ?? [];
}

export interface LogQueryParams {
  query: string;
  startNs: string; // nanoseconds since the epoch (load older and context need ns precision)
  endNs: string;
  limit?: number;
  direction?: "backward" | "forward";
}

/** A log query_range with categorize-labels, so stream labels, metadata and parsed labels come apart. */
export async function queryLogs(p: LogQueryParams, signal?: AbortSignal): Promise<QueryResponse> {
  const url = withParams("/loki/api/v1/query_range", {
    query: p.query,
    start: p.startNs,
    end: p.endNs,
    limit: p.limit,
    direction: p.direction,
  });
  const res = await request(url, {
    signal,
    headers: { Accept: "application/json", "X-Loki-Response-Encoding-Flags": "categorize-labels" },
  });
  return (await res.json()) as QueryResponse;
}

// ---- Prometheus API shapes (/api/v1: the metrics explorer and the overview's panels) ----

/** What /api/v1/query and /query_range answer; `warnings` and `infos` come with any status. */
export type PromData =
  | { resultType: "matrix"; result: MatrixResult[] }
  | { resultType: "vector"; result: VectorResult[] }
  | { resultType: "scalar"; result: [number, string] }
  | { resultType: "string"; result: [number, string] };

export interface PromResponse {
  status: "success" | "error";
  data: PromData;
  warnings?: string[];
  infos?: string[];
}

/** Epoch ms as the Prometheus API's time parameters (Unix seconds, ms precision). */
export const msToSeconds = (ms: number) => `${Math.round(ms) / 1000}`;

/** /api/v1/query_range: start, end and step in ms, sent as seconds. */
export function promQueryRange(query: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<PromResponse> {
  return getJSON<PromResponse>(
    "/api/v1/query_range",
    { query, start: msToSeconds(start), end: msToSeconds(end), step: msToSeconds(step) },
    signal,
  );
}

/** /api/v1/query: an instant query at `time` (ms). */
export function promQuery(query: string, time: number, signal?: AbortSignal): Promise<PromResponse> {
  return getJSON<PromResponse>("/api/v1/query", { query, time: msToSeconds(time) }, signal);
}

/**
 * Where a PromQL parse error points: Prometheus writes `1:14: parse error: ...` (1-based line
 * and column), and the API puts it after `invalid parameter "query": `.
 */
export function promErrorPosition(message: string): { line: number; col: number } | null {
  const m = /(?:^|\s)(\d+):(\d+): parse error/.exec(message);
  if (!m) return null;
  return { line: Math.max(1, Number(m[1])), col: Math.max(1, Number(m[2])) };
}
