/**
 * The admin console's build: src/web → dist/web, every asset under /assets/ with its content hash in its name,
 * nothing loaded from anywhere but Liaison itself. Preact's JSX through esbuild's automatic runtime (no Babel).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
  build: {
    outDir: path.resolve(here, '../../dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    target: 'es2022',
    // Inlined assets would be data: URLs in scripts; keep every asset a file the CSP's 'self' allows.
    assetsInlineLimit: 0,
  },
});
