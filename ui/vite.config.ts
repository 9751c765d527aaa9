import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle goes into the Python package, which `kiseki server` serves at "/".
// KISEKI_UI_OUT overrides it (to build a copy elsewhere without touching the package).
const outDir = process.env.KISEKI_UI_OUT ?? "../src/kiseki/server/static";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir, emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 800 },
  server: { proxy: { "/api": "http://127.0.0.1:8765" } },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
