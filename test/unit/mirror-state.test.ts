import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileMirrorState } from '../../src/state/mirror-state.js';

describe('file mirror state', () => {
  it('persists records atomically and reads them back', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'state-')), 'sub', 'state.json');
    const s = fileMirrorState(file);
    await s.set('a -> b', { sourceDigest: 'sha256:1', targetDigest: 'sha256:1', at: 'now' });
    await s.flush();
    expect(await fileMirrorState(file).get('a -> b')).toMatchObject({ targetDigest: 'sha256:1' });
    fs.writeFileSync(file, '{broken');
    await expect(fileMirrorState(file).get('x')).rejects.toMatchObject({ code: 'E_STATE' });
  });

  it('keeps every record set while the file is still being read (a run starts all its jobs at once)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'state-')), 'state.json');
    const old = Object.fromEntries(
      Array.from({ length: 2000 }, (_, i) => [
        `old${i}`,
        { sourceDigest: 'sha256:0', targetDigest: 'sha256:0', at: 'then' },
      ]),
    );
    fs.writeFileSync(file, JSON.stringify({ version: 1, records: old }));
    const s = fileMirrorState(file);
    const keys = Array.from({ length: 20 }, (_, i) => `new${i}`);
    await Promise.all(keys.map((k) => s.set(k, { sourceDigest: 'sha256:1', targetDigest: 'sha256:1', at: 'now' })));
    await s.flush();
    const reread = fileMirrorState(file);
    for (const k of keys) expect(await reread.get(k), k).toMatchObject({ targetDigest: 'sha256:1' });
    expect(await reread.get('old1999')).toMatchObject({ targetDigest: 'sha256:0' });
  });
});
