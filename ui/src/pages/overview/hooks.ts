// The overview's fetching: a tick every few seconds while the tab is visible, and a fetch per
// key change that keeps the last result on screen until the next one lands.
import { useEffect, useState } from "preact/hooks";

export type Loadable<T> = { state: "loading" } | { state: "error"; message: string } | { state: "ok"; value: T };

export function useTick(ms: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => {
      if (document.visibilityState === "visible") setTick((n) => n + 1);
    }, ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return tick;
}

/** Fetch on every key change; a refresh keeps showing the last result until the new one lands. */
export function useFetch<T>(run: (signal: AbortSignal) => Promise<T>, keys: unknown[]): Loadable<T> {
  const [state, setState] = useState<Loadable<T>>({ state: "loading" });
  useEffect(() => {
    const ctl = new AbortController();
    run(ctl.signal)
      .then((value) => setState({ state: "ok", value }))
      .catch((e: Error) => {
        if (!ctl.signal.aborted) setState({ state: "error", message: e.message });
      });
    return () => ctl.abort();
  }, keys);
  return state;
}
