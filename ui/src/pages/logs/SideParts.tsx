// Pieces the two side panels (label browser, field list) share: the loading and error notes
// (live regions, so a screen reader hears them) and the filter box for long lists.

export function LoadingNote(props: { what: string }) {
  return (
    <p class="logs-side-note" role="status">
      Loading {props.what}…
    </p>
  );
}

export function ErrorNote(props: { what: string; message: string }) {
  return (
    <p class="logs-side-note error" role="alert">
      The {props.what} could not be loaded: {props.message}
    </p>
  );
}

export function FilterBox(props: { count: number; noun: string; label: string; value: string; onInput: (v: string) => void }) {
  return (
    <input
      type="search"
      class="logs-side-filter"
      placeholder={`Filter ${props.count} ${props.noun}`}
      aria-label={props.label}
      value={props.value}
      onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
    />
  );
}
