// Live tail over Loki's WebSocket (/loki/api/v1/tail): new entries at the top, at most `max`
// kept, reconnecting with backoff (1 s, 2 s, 4 s … 30 s) when the connection drops, resuming
// from the newest entry seen so nothing is shown twice.
import type { Labels, StreamResult } from "../../lib/api";
import { flattenStreams, streamKey, type LogEntry } from "../../lib/entries";

export type TailState = "connecting" | "live" | "reconnecting" | "failed" | "stopped";

export const MAX_TAIL = 1000;

/** Wait before reconnect attempt `attempt` (0-based): doubling from 1 s, at most 30 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(attempt, 15));
}

/** Put newer entries on top and keep at most `max`; says how many fell off the bottom. */
export function mergeTail(shown: LogEntry[], incoming: LogEntry[], max = MAX_TAIL): { entries: LogEntry[]; dropped: number } {
  const all = incoming.concat(shown);
  if (all.length <= max) return { entries: all, dropped: 0 };
  return { entries: all.slice(0, max), dropped: all.length - max };
}

export function tailUrl(loc: { protocol: string; host: string }, query: string, startNs: string): string {
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  const q = new URLSearchParams({ query, start: startNs, limit: "100" });
  return `${proto}//${loc.host}/loki/api/v1/tail?${q}`;
}

interface TailMessage {
  streams?: StreamResult[];
  dropped_entries?: { labels?: Labels; timestamp?: string }[] | null;
}

export interface LiveTailOptions {
  query: string;
  startNs: string;
  onEntries: (entries: LogEntry[]) => void; // newest first
  onServerDropped: (n: number) => void;
  onState: (state: TailState, detail?: string) => void;
  location?: { protocol: string; host: string };
  WebSocketImpl?: typeof WebSocket;
}

export class LiveTail {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private stopped = false;
  private newestNs: string;
  private seq = 0;
  /** Identities of the entries at the newest nanosecond, to drop them when a resume repeats them. */
  private atNewest = new Set<string>();

  constructor(private readonly opts: LiveTailOptions) {
    this.newestNs = opts.startNs;
  }

  start(): void {
    this.stopped = false;
    this.connect(false);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      ws.close(1000);
    }
    this.opts.onState("stopped");
  }

  private connect(reconnecting: boolean): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    this.opts.onState(reconnecting ? "reconnecting" : "connecting");
    const ws = new Impl(tailUrl(this.opts.location ?? window.location, this.opts.query, this.newestNs));
    this.ws = ws;
    ws.onopen = () => this.opts.onState("live");
    ws.onmessage = (ev) => {
      this.attempt = 0; // a working connection: the next drop starts the backoff over
      this.receive(String(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      if (ev.code === 1008) {
        // The server refused the query: retrying would be refused again.
        this.opts.onState("failed", ev.reason || "the server refused the tail");
        return;
      }
      const delay = backoffDelay(this.attempt++);
      const why = ev.reason ? `${ev.reason}; ` : "";
      this.opts.onState("reconnecting", `${why}retrying in ${Math.round(delay / 1000)} s`);
      this.timer = setTimeout(() => this.connect(true), delay);
    };
  }

  private receive(text: string): void {
    let msg: TailMessage;
    try {
      msg = JSON.parse(text) as TailMessage;
    } catch {
      return;
    }
    const dropped = msg.dropped_entries?.length ?? 0;
    if (dropped > 0) this.opts.onServerDropped(dropped);
    const entries = flattenStreams(msg.streams ?? []);
    const fresh: LogEntry[] = [];
    for (const e of entries) {
      const ident = `${streamKey(e.stream)}|${e.tsNs}|${e.line}`;
      const cmp = BigInt(e.tsNs) - BigInt(this.newestNs);
      if (cmp < 0n || (cmp === 0n && this.atNewest.has(ident))) continue; // a resume repeating what we have
      fresh.push({ ...e, id: `tail-${++this.seq}` });
    }
    for (const e of fresh.slice().reverse()) {
      const cmp = BigInt(e.tsNs) - BigInt(this.newestNs);
      if (cmp > 0n) {
        this.newestNs = e.tsNs;
        this.atNewest = new Set();
      }
      if (e.tsNs === this.newestNs) this.atNewest.add(`${streamKey(e.stream)}|${e.tsNs}|${e.line}`);
    }
    if (fresh.length > 0) this.opts.onEntries(fresh);
  }
}
