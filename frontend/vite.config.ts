/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The built app is served by Flask at `/`; in development Vite proxies the API to Flask.
const api = process.env.FLOWLET_API ?? "http://127.0.0.1:5000";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    sourcemap: false,
    // No inline assets: the CSP allows only same-origin files (and data: images).
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    proxy: { "/api": api },
  },
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    environment: "node",
  },
});
