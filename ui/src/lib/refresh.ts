// Periodic refresh for pages that show live server state (Targets, Status): a hidden tab asks
// the server nothing, and coming back it catches up at once if it skipped a refresh, so a
// background tab costs nothing and a foreground one is never a period stale.
import { useEffect, useRef } from "preact/hooks";

/** The part of `document` the refresh reads: visibility and its change event. */
export interface Visibility {
  readonly visibilityState: DocumentVisibilityState;
  addEventListener(type: "visibilitychange", listener: () => void): void;
  removeEventListener(type: "visibilitychange", listener: () => void): void;
}

/**
 * Call `refresh` every `ms` while `doc` is visible; a tick while hidden is skipped and made up
 * for when the tab is shown again (once, however many ticks were skipped). Returns the stop.
 * It does not call `refresh` at the start: the caller loads first, then this keeps it fresh.
 */
export function visibleInterval(refresh: () => void, ms: number, doc: Visibility = document): () => void {
  let skipped = false;
  const t = setInterval(() => {
    if (doc.visibilityState === "visible") refresh();
    else skipped = true;
  }, ms);
  const onVisible = () => {
    if (doc.visibilityState === "visible" && skipped) {
      skipped = false;
      refresh();
    }
  };
  doc.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(t);
    doc.removeEventListener("visibilitychange", onVisible);
  };
}

/**
 * Load with `refresh` on mount and keep it fresh with `visibleInterval`; `stop` runs on
 * unmount after the timers are gone (a page aborts its request in flight there). `refresh`
 * must be stable (useCallback), or every render would restart the timer.
 */
export function useVisibleInterval(refresh: () => void, ms: number, stop?: () => void): void {
  // The latest `stop`, read at unmount, so a new closure each render does not restart the timer.
  const stopRef = useRef(stop);
  stopRef.current = stop;
  useEffect(() => {
    refresh();
    const cancel = visibleInterval(refresh, ms);
    return () => {
      cancel();
      stopRef.current?.();
    };
  }, [refresh, ms]);
}
