#!/usr/bin/env node
'use strict';
// The `airlock` command (copied to dist/cli/airlock.cjs by scripts/bundle.mjs): runs the CLI
// bundle with V8's compiled code kept between runs, so a one-shot command does not compile the
// same functions again on every start. Node 22.1+ does this itself (module.enableCompileCache);
// on Node 20 the launcher does it with vm.Script's cachedData, one cache file per subcommand and
// bundle file, so each holds the functions that command runs. NODE_DISABLE_COMPILE_CACHE=1 turns
// it off, as it does Node's own cache.
const Module = require('node:module');
const path = require('node:path');

const BUNDLE = path.join(__dirname, 'main.cjs');
// The build's files, hashed: a cache from another build is never offered to V8.
const BUILD_HASH = '__BUILD_HASH__';

/** The subcommand: each has its own cache, holding the functions that command runs. */
function commandName() {
  return /^[a-z][a-z-]{0,31}$/.test(process.argv[2] || '') ? process.argv[2] : 'other';
}

function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || require('node:os').homedir(), '.cache');
  return path.join(base, 'airlock', 'compile-cache');
}

/**
 * A code cache is code V8 runs: it is used only when this user wrote it and no one else can
 * change it, as the launcher writes them (a cache directory shared through XDG_CACHE_HOME must
 * not let another account run code as this one).
 */
function readTrusted(fs, file) {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
    if (!mine || (st.mode & 0o022) !== 0) return undefined;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes each cache whole or not at all, readable by this user only; a read-only home only means no cache. */
function saveCaches(compiled, dir) {
  const fs = require('node:fs');
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const { script, file } of compiled) {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, file);
    }
    // Caches of other builds are dead weight once a day old (a day, so two installed versions
    // used side by side do not delete each other's on every run).
    const dayAgo = Date.now() - 24 * 3600_000;
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`${BUILD_HASH}-`)) continue;
      const other = path.join(dir, name);
      if (fs.statSync(other).mtimeMs < dayAgo) fs.rmSync(other, { force: true });
    }
  } catch {
    // best effort
  }
}

/**
 * Loads the bundle, and the files it requires from this directory, through vm.Script with a
 * code cache per file and command: a library split off the bundle to keep a run that does not
 * need it from reading it is still compiled only once when a run does.
 */
function runWithCodeCache() {
  const fs = require('node:fs');
  const vm = require('node:vm');
  const dir = cacheDir();
  const prefix = `${BUILD_HASH}-${process.versions.v8}-${process.arch}-${commandName()}`;
  const fresh = [];
  const compile = (filename) => {
    const file = path.join(dir, `${prefix}.${path.basename(filename, '.cjs')}.bin`);
    let cachedData;
    try {
      cachedData = readTrusted(fs, file);
    } catch {
      // first run of this command with this build
    }
    // The same wrapper Node puts around a CommonJS file.
    const source = `(function (exports, require, module, __filename, __dirname) { ${fs.readFileSync(filename, 'utf8')}\n})`;
    const script = new vm.Script(source, {
      filename,
      cachedData,
      importModuleDynamically: vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (cachedData === undefined || script.cachedDataRejected) fresh.push({ script, file });
    return script;
  };
  const loadJs = Module._extensions['.js'];
  Module._extensions['.cjs'] = (mod, filename) => {
    if (path.dirname(filename) !== __dirname) return loadJs(mod, filename);
    const wrapper = compile(filename).runInThisContext();
    wrapper.call(mod.exports, mod.exports, Module.createRequire(filename), mod, filename, __dirname);
  };
  // Written at exit, so each holds the functions this run compiled, not only the top level; and
  // only after a run that did the command's work: help or a failure would leave a cache that
  // lacks most of it, used as it is by every later run.
  const helpOnly = process.argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-V' || a === 'help');
  if (!helpOnly) {
    process.once('exit', (code) => {
      if (code === 0 && fresh.length > 0) saveCaches(fresh, dir);
    });
  }
  require(BUNDLE);
}

if (process.env.NODE_DISABLE_COMPILE_CACHE) {
  require(BUNDLE);
  return;
}
// V8 refuses a code cache made under other flags, so the flags a run may change are set here,
// before anything compiles, the same for every run of a command:
// - the client for requests with a body turns on --liftoff-only when it loads (src/oci/transport.ts
//   says why);
// - a run that copies for seconds lets V8 drop the bytecode of functions that ran only at start,
//   and the cache written at its exit would lack just what the next start needs. The long-running
//   processes keep V8's default: they start once, and their memory matters more.
const flags = ['--liftoff-only'];
if (!['worker', 'serve', 'scheduler'].includes(commandName())) flags.push('--no-flush-bytecode');
require('node:v8').setFlagsFromString(flags.join(' '));
if (typeof Module.enableCompileCache === 'function') {
  try {
    require('node:fs').mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
  } catch {
    // Node then runs without its cache
  }
  Module.enableCompileCache(cacheDir());
  require(BUNDLE);
} else {
  runWithCodeCache();
}
