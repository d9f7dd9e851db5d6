// Placeholder until this page's session lands; replaced, never shipped as is.
export default function Page() {
  return <main class="page"><h1>status</h1></main>;
}
