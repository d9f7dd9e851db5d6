// Whether the server answers. Any failed request reports it down; while down, the shell shows
// a banner and this module polls /-/ready with backoff until the server is back.
import { useEffect, useState } from "preact/hooks";

type Listener = (up: boolean) => void;

let up = true;
let timer: ReturnType<typeof setTimeout> | undefined;
let delay = 1000;
const listeners = new Set<Listener>();

function set(value: boolean): void {
  if (value === up) return;
  up = value;
  for (const l of listeners) l(up);
}

async function probe(): Promise<void> {
  timer = undefined;
  try {
    const res = await fetch("/-/ready", { cache: "no-store" });
    if (res.ok) {
      delay = 1000;
      set(true);
      return;
    }
  } catch {
    // still down
  }
  delay = Math.min(delay * 2, 15_000);
  timer = setTimeout(probe, delay);
}

export function reportDown(): void {
  set(false);
  if (timer === undefined) timer = setTimeout(probe, delay);
}

export function reportUp(): void {
  set(true);
}

export function isUp(): boolean {
  return up;
}

/** Subscribe to up/down changes (the shell's banner; pages may retry when it comes back). */
export function onHealth(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useServerUp(): boolean {
  const [value, setValue] = useState(up);
  useEffect(() => onHealth(setValue), []);
  return value;
}
