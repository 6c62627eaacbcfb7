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
// V8 takes a code cache only under the flags it was made with, and the client for requests with
// a body changes one as it loads (src/http/transport.ts): it calls this first, and the caches are
// taken then, before the change, and written at exit.
const BEFORE_V8_FLAGS = Symbol.for('airlock.compileCache.beforeV8Flags');
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

/** Owned by this user and writable by no one else. */
function private_(st) {
  const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
  return mine && (st.mode & 0o022) === 0;
}

/**
 * A code cache is code V8 runs, and V8 here does not checksum it: a cache is used only from a
 * directory of this user's that no one else can write (so no one else can have put, swapped or
 * linked a file in it, as they could in a shared XDG_CACHE_HOME), and only when it is a regular
 * file of this user's, not a link, that no one else can write either, as the launcher writes them.
 */
function trustedDir(fs, dir) {
  try {
    const st = fs.lstatSync(dir);
    return st.isDirectory() && private_(st);
  } catch {
    return false;
  }
}

function readTrusted(fs, file) {
  // O_NONBLOCK: a FIFO in the cache's place must not hold the command up.
  const c = fs.constants;
  const fd = fs.openSync(file, c.O_RDONLY | (c.O_NOFOLLOW || 0) | (c.O_NONBLOCK || 0));
  try {
    const st = fs.fstatSync(fd);
    return st.isFile() && st.nlink === 1 && private_(st) ? fs.readFileSync(fd) : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes each cache whole or not at all, readable by this user only; a read-only home only means no cache. */
function saveCaches(taken, dir) {
  const fs = require('node:fs');
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return;
  }
  if (!trustedDir(fs, dir)) return;
  for (const { data, file } of taken) {
    // A name no other process picks, created anew ('wx' neither follows a link nor reuses a file):
    // processes sharing the directory (containers whose airlock is pid 1) write side by side.
    const tmp = `${file}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    try {
      fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
  // Caches of other builds are dead weight once a day old (a day, so two installed versions used
  // side by side do not delete each other's on every run), as are files left by a write cut off.
  const dayAgo = Date.now() - 24 * 3600_000;
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // removed meanwhile: nothing to prune (this runs in an exit handler, where a throw would
    // change the command's exit status)
  }
  for (const name of names) {
    if (name.startsWith(`${BUILD_HASH}-`) && !name.endsWith('.tmp')) continue;
    try {
      const st = fs.lstatSync(path.join(dir, name));
      // Node 22's own compile cache keeps a directory here: not ours to prune.
      if (!st.isDirectory() && st.mtimeMs < dayAgo) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // gone meanwhile
    }
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
  const readable = trustedDir(fs, dir);
  const prefix = `${BUILD_HASH}-${process.versions.v8}-${process.arch}-${commandName()}`;
  const fresh = [];
  let flagsChanged = false;
  const take = () => {
    for (const f of fresh) f.data ??= f.script.createCachedData();
  };
  globalThis[BEFORE_V8_FLAGS] = () => {
    take();
    flagsChanged = true;
  };
  const compile = (filename) => {
    const file = path.join(dir, `${prefix}.${path.basename(filename, '.cjs')}.bin`);
    let cachedData;
    try {
      if (readable) cachedData = readTrusted(fs, file);
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
    // A file first loaded after the flags changed is compiled under flags the next run starts
    // without: a cache of it would be refused.
    if ((cachedData === undefined || script.cachedDataRejected) && !flagsChanged)
      fresh.push({ script, file, data: undefined });
    return script;
  };
  // Node loads a .cjs file with the .js loader; registering a .cjs loader instead would change how
  // extensionless requires resolve (Node tries every registered extension).
  const loadJs = Module._extensions['.js'];
  Module._extensions['.js'] = function (mod, filename) {
    if (!filename.endsWith('.cjs') || path.dirname(filename) !== __dirname) return loadJs.call(this, mod, filename);
    const wrapper = compile(filename).runInThisContext();
    wrapper.call(mod.exports, mod.exports, Module.createRequire(filename), mod, filename, __dirname);
  };
  // Taken at exit (or before the flags change), so each holds the functions this run compiled,
  // not only the top level; written only after a run that did the command's work: help or a
  // failure would leave a cache that lacks most of it, used as it is by every later run. (A run
  // that goes on for minutes without uploading may have let V8 drop the bytecode of start-up
  // functions by then; later runs compile those as they go, as without a cache.)
  const helpOnly = process.argv.some(
    (a) => a === '--help' || a === '-h' || a === '--version' || a === '-V' || a === 'help',
  );
  if (!helpOnly) {
    process.once('exit', (code) => {
      if (code !== 0 || fresh.length === 0) return;
      take();
      saveCaches(fresh, dir);
    });
  }
  require(BUNDLE);
}

if (process.env.NODE_DISABLE_COMPILE_CACHE) {
  require(BUNDLE);
  return;
}
if (typeof Module.enableCompileCache === 'function') {
  // Node writes its cache at exit, under the flags of the moment, so the flags a run may change
  // are set before anything compiles, the same for every run of a command: --liftoff-only (see
  // src/http/transport.ts) and, except for the long-running processes, --no-flush-bytecode (a copy
  // that runs for minutes would otherwise drop the start-up code before the cache is written).
  const flags = ['--liftoff-only'];
  if (!['worker', 'serve', 'scheduler'].includes(commandName())) flags.push('--no-flush-bytecode');
  require('node:v8').setFlagsFromString(flags.join(' '));
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
