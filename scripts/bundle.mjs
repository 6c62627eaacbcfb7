// Bundles the CLI into dist/cli/ so `airlock` starts fast: resolving and compiling hundreds of
// separate module files costs more than the work of a no-op re-sync.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes; stale ones from earlier builds would pile up.
rmSync('dist/cli', { recursive: true, force: true });

await build({
  entryPoints: { main: 'dist/src/cli/main.js' },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __airlockCreateRequire } from 'node:module'; const require = __airlockCreateRequire(import.meta.url);" },
});
