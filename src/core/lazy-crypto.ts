import { createRequire } from 'node:module';
import type { Hash } from 'node:crypto';

// node:crypto takes several milliseconds to load on Node 20, and a no-op re-sync hashes nothing:
// the modules on that path load it with their first hash instead of at start-up.
let crypto: typeof import('node:crypto') | undefined;

function nodeCrypto(): typeof import('node:crypto') {
  return (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
}

export function createHash(algorithm: string): Hash {
  return nodeCrypto().createHash(algorithm);
}

export function randomUUID(): string {
  return nodeCrypto().randomUUID();
}
