// The heading of a page that refreshes itself (Targets, Status): its title, when it was last
// updated and how often, and a button to refresh now (off while a refresh is in flight).
import "./refreshhead.css";

export interface RefreshHeadProps {
  title: string;
  at: number | undefined; // epoch ms of the last answer; undefined while the first one loads
  every: string; // the period, as the page says it ("10 s")
  busy: boolean;
  onRefresh: () => void;
  label: string; // the button's accessible name ("Refresh targets now")
}

export function RefreshHead({ title, at, every, busy, onRefresh, label }: RefreshHeadProps) {
  return (
    <div class="refresh-head">
      <h1>{title}</h1>
      <span class="muted refresh-updated">
        {at !== undefined ? `Updated ${new Date(at).toLocaleTimeString()}; every ${every}` : "Loading…"}
      </span>
      <button type="button" onClick={onRefresh} disabled={busy} aria-label={label}>
        Refresh
      </button>
    </div>
  );
}
