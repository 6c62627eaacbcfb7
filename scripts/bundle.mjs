// Bundles the CLI into dist/cli/ so `airlock` starts fast. A one-shot no-op re-sync does a few
// milliseconds of work; what it would otherwise spend is start-up: resolving, reading and
// compiling module files. So the CLI is one CommonJS file (main.cjs) that Node reads and compiles
// in one go (CommonJS loads synchronously; Node 20's ES module loader reads every chunk through
// fs/promises and resolves it by URL, a cost per file), started by a small launcher (airlock.cjs)
// that keeps V8's compiled code between runs.
//
// What goes where:
// - bundled into main.cjs: our code and the small libraries every command needs (commander,
//   p-limit);
// - bundled on their own, loaded on first use: undici's client (only requests with a body need
//   it), pino (a quiet run never logs), the libraries of config files and chart indexes
//   (yaml, zod, semver), and tar-stream (only chart and addon archives need it). Inside main.cjs those three were half its size and zod's module set-up
//   ran on every start, 10 ms of an image copy's no-op re-sync that reads no config. The launcher
//   caches each file's compiled code, so a command that does load them compiles them once;
// - everything else (queue, server, gRPC, git, metrics) is required from node_modules when a
//   command that needs it runs; no one-shot copy pays for compiling it.
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

const OUT = 'dist/cli';
// Chunk names of earlier builds, stale vendor files: start clean.
rmSync(OUT, { recursive: true, force: true });

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const BUNDLED = new Set(['commander', 'p-limit']);
/** Loaded lazily from files of their own: specifier → output file next to main.cjs. */
const VENDOR = [
  {
    name: 'undici-core',
    entry: 'dist/src/http/undici-core.js',
    matches: (spec) => /(^|\/)undici-core\.js$/.test(spec),
  },
  ...['pino', 'yaml', 'zod', 'semver', 'tar-stream'].map((name) => ({
    name,
    entry: name,
    matches: (spec) => spec === name,
  })),
];
const external = Object.keys(pkg.dependencies).filter((d) => !BUNDLED.has(d) && !VENDOR.some((v) => v.name === d));

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // An import of a name a module does not export would be undefined at run time (say, a named or
  // namespace import of a built-in the lazy-builtins plugin stands in for): fail the build instead.
  logOverride: { 'import-is-undefined': 'error' },
  // import() of our own modules and of packages becomes require() behind a promise: the lazy
  // loading stays, and no module goes through the ES module loader.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__airlockImportMetaUrl' },
  banner: { js: "const __airlockImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};

/** The vendor files are required from main.cjs, not bundled into it. */
const vendorFiles = {
  name: 'vendor-files',
  setup(b) {
    b.onResolve({ filter: /./ }, (args) => {
      const vendor = VENDOR.find((v) => v.matches(args.path));
      return vendor && args.kind !== 'entry-point' ? { path: `./${vendor.name}.cjs`, external: true } : undefined;
    });
  },
};

/**
 * commander requires child_process at load (5 ms on Node 20) for executable subcommands, which
 * airlock does not have; hand it a stand-in that loads the module if spawn is ever called.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-child-process' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};

/**
 * node:fs, node:fs/promises and node:os, as our modules import them (`import fs from 'node:fs'`):
 * esbuild would copy each built-in's properties into a wrapper in every importing module (fs has
 * a hundred) and require fs/promises and os at start-up, which an image copy's no-op re-sync
 * never calls (a few ms each). Instead each is one module of the bundle whose default export
 * reads the built-in's properties on first use. Only the default import exists: a named or
 * namespace import fails the build (import-is-undefined is an error above) rather than bundling
 * differently.
 */
const LAZY_BUILTINS = /^node:(fs|fs\/promises|os)$/;
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    // Only ES imports: a bundled CommonJS library's require('node:fs') (commander has one) gets
    // the built-in itself, not a module namespace with a default export.
    b.onResolve({ filter: LAZY_BUILTINS }, (args) =>
      args.kind === 'import-statement' && args.namespace !== 'lazy-builtin'
        ? { path: args.path, namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: [
        'let real;',
        'const builtin = {};',
        `for (const key of ${JSON.stringify(Object.keys(require(args.path)))}) {`,
        `  Object.defineProperty(builtin, key, { enumerable: true, get: () => (real ??= require(${JSON.stringify(args.path)}))[key] });`,
        '}',
        'export default builtin;',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

await build({
  ...common,
  entryPoints: { main: 'dist/src/cli/main.js' },
  outfile: `${OUT}/main.cjs`,
  external: external.flatMap((d) => [d, `${d}/*`]),
  plugins: [vendorFiles, lazyChildProcess, lazyBuiltins],
});
/**
 * zod's package exports every locale (half of it once bundled); airlock's messages are English,
 * which zod registers itself from its own file, so the vendor file keeps that one only.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: 'js',
    }));
  },
};
for (const vendor of VENDOR) {
  await build({
    ...common,
    entryPoints: [vendor.entry],
    outfile: `${OUT}/${vendor.name}.cjs`,
    plugins: [zodEnglishOnly],
  });
}

// The launcher names its code caches after the build's content: a cache from another build is
// never offered to V8 (which checks only the source length, version and flags).
const hash = createHash('sha256');
for (const name of ['main', ...VENDOR.map((v) => v.name)]) hash.update(readFileSync(`${OUT}/${name}.cjs`));
const launcher = readFileSync('scripts/launcher.cjs', 'utf8').replace(
  '__BUILD_HASH__',
  hash.digest('hex').slice(0, 16),
);
writeFileSync(`${OUT}/airlock.cjs`, launcher);
chmodSync(`${OUT}/airlock.cjs`, 0o755);
