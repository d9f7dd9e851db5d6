// Numbers as the status page shows them: bytes in binary units (KiB, MiB), rates per second,
// counts with thousands separators, durations and ages in the two largest units.

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

function digits(x: number): string {
  // three significant digits at most: 1.23, 12.3, 123
  if (x >= 100) return String(Math.round(x));
  if (x >= 10) return String(Number(x.toFixed(1)));
  return String(Number(x.toFixed(2)));
}

/** `0 B`, `512 B`, `1.5 KiB`, `64 MiB`, `1.21 GiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  let x = Math.abs(n);
  let i = 0;
  while (x >= 1024 && i < BYTE_UNITS.length - 1) {
    x /= 1024;
    i++;
  }
  // 1023.9 KiB rounds to "1024 KiB": show the next unit instead
  if (i < BYTE_UNITS.length - 1 && i > 0 && Math.round(x) >= 1024) {
    x /= 1024;
    i++;
  }
  const sign = n < 0 ? "-" : "";
  return `${sign}${i === 0 ? String(Math.round(x)) : digits(x)} ${BYTE_UNITS[i]}`;
}

/** `12,345` (integers), `0.25`, `3.14` (fractions to three significant digits). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  return digits(Math.abs(n)).replace(/^/, n < 0 ? "-" : "");
}

/** A rate per second: `0 lines/s`, `2.5 lines/s`, `1,200 lines/s`, `1.5 KiB/s`. */
export function formatRate(perSecond: number, unit: "lines" | "bytes" | "samples"): string {
  if (unit === "bytes") return `${formatBytes(perSecond)}/s`;
  return `${perSecond > 0 && perSecond < 0.01 ? "<0.01" : formatCount(perSecond)} ${unit}/s`;
}

const SPANS: [string, number][] = [
  ["d", 86400],
  ["h", 3600],
  ["m", 60],
  ["s", 1],
];

/** A length of time in its two largest units: `45s`, `5m 12s`, `3h 4m`, `15d`, `2d 1h`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  let rest = Math.floor(seconds);
  if (rest === 0) return "0s";
  const parts: string[] = [];
  for (const [unit, size] of SPANS) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    } else if (parts.length > 0) {
      break; // two adjacent units at most: "2d 1h", never "2d 5s"
    }
  }
  return parts.join(" ");
}

/** How long ago a Unix time (seconds) was: `just now`, `12s ago`, `3m 5s ago`. */
export function formatAgo(unixSeconds: number, nowMs: number = Date.now()): string {
  const ago = nowMs / 1000 - unixSeconds;
  if (ago < 1) return "just now";
  return `${formatSeconds(ago)} ago`;
}
