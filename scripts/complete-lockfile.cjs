// After `npm install` on a machine whose package mirror lacks other platforms' optional binaries
// (npm then leaves them out of the lock and `npm ci` rejects it): node scripts/complete-lockfile.cjs
// Adds lock entries for other platforms' optional binaries that this machine's package mirror lacks.
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const pk = lock.packages;
let added = 0;
for (const [loc, meta] of Object.entries(pk)) {
  for (const [name, ver] of Object.entries(meta.optionalDependencies || {})) {
    const base = loc ? `${loc}/node_modules/${name}` : `node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (pk[base] || pk[hoisted]) continue;
    const m =
      /-(darwin|linux|win32|android|freebsd|openbsd|openharmony|netbsd|sunos|aix)-([a-z0-9]+)(?:-(gnu|musl|gnueabihf|musleabihf|msvc|eabi))?$/.exec(
        name,
      );
    if (!m) {
      console.error('cannot derive platform for', name);
      continue;
    }
    let [, os, cpu, abi] = m;
    if (cpu === 'arm' || abi === 'gnueabihf' || abi === 'musleabihf' || abi === 'eabi') cpu = 'arm';
    const entry = {
      version: ver.replace(/^[\^~]/, ''),
      cpu: [cpu],
      dev: !!meta.dev || undefined,
      license: meta.license,
      optional: true,
      os: [os],
    };
    if (abi === 'gnu' || abi === 'gnueabihf') entry.libc = ['glibc'];
    if (abi === 'musl' || abi === 'musleabihf') entry.libc = ['musl'];
    if (!entry.dev) delete entry.dev;
    pk[hoisted] = entry;
    added++;
  }
}
const sorted = {};
for (const k of Object.keys(pk).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))) sorted[k] = pk[k];
lock.packages = sorted;
fs.writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log('added', added);
