/// <reference types="vitest/config" />
// Heron's UI build. The output lands inside the Python package (src/heron/ui), so that the
// wheel carries it and the server serves it under `/`. HERON_UI_OUT builds elsewhere (for
// working on the UI beside a running server: `heron server --ui-dir DIR`).
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";
import { fileURLToPath } from "node:url";

const outDir = process.env.HERON_UI_OUT || fileURLToPath(new URL("../src/heron/ui", import.meta.url));
const api = process.env.HERON_API || "http://127.0.0.1:9500";

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    // Hashed names are what lets the server give assets a year of caching.
    rollupOptions: { output: { entryFileNames: "assets/[name]-[hash].js" } },
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: Object.fromEntries(["/loki", "/api", "/otlp", "/-", "/metrics"].map((p) => [p, { target: api, ws: true }])),
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
    // Node would load codemirror-promql's CommonJS build, and with it a second @codemirror/state:
    // inlined, Vitest runs its ES modules against the one copy the UI uses, as the build does.
    server: { deps: { inline: ["@prometheus-io/codemirror-promql", "@prometheus-io/lezer-promql"] } },
    alias: { "@prometheus-io/codemirror-promql": "@prometheus-io/codemirror-promql/dist/esm/index.js" },
  },
});
