import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** CLI tests run the built `airlock` binary, so the build (`npm run build`) runs once before any test file. */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')],
    { stdio: 'inherit', cwd: root },
  );
  // The shipped CLI is the bundle; the CLI tests run exactly that.
  execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle.mjs')], { stdio: 'inherit', cwd: root });
}
