import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importCycles, importEdges, sourceFiles, upwardImports, type LayerRow } from '../support/import-graph.js';

// The layer table is README's: one place for readers and for this check.
const ROOT = path.resolve(import.meta.dirname, '..', '..');

function layerTable(readme: string): LayerRow[] {
  const block = /<!-- layers:start -->([\s\S]*?)<!-- layers:end -->/.exec(readme)?.[1];
  if (!block) throw new Error('README has no layer table between <!-- layers:start --> and <!-- layers:end -->');
  return [...block.matchAll(/^(\d+)\s+(\S+)\s/gm)].map((m) => ({ layer: Number(m[1]), folder: m[2]! }));
}

const rows = layerTable(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
const files = sourceFiles(ROOT, ['src', 'workers']);
const edges = importEdges(ROOT, files);

describe('the architecture', () => {
  it('lists every folder once, in layer order', () => {
    expect(rows.length).toBeGreaterThan(10);
    expect(new Set(rows.map((r) => r.folder)).size).toBe(rows.length);
    expect(rows.map((r) => r.layer)).toEqual([...rows.map((r) => r.layer)].sort((a, b) => a - b));
    const topFolders = new Set(
      files.map((f) => (f.startsWith('src/') ? f.split('/').slice(0, 2).join('/') : f.split('/')[0]!)),
    );
    expect([...topFolders].filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect([...topFolders].sort()).toEqual(rows.map((r) => r.folder).sort());
  });

  it('has no import cycle, type-only imports included', () => {
    expect(importCycles(files, edges)).toEqual([]);
  });

  it('has no import from a lower layer into a higher one', () => {
    expect(upwardImports(edges, rows)).toEqual([]);
  });

  it('resolves every relative import to a file of the tree', () => {
    const known = new Set(files);
    expect(edges.filter((e) => !known.has(e.to)).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });
});

describe('the architecture check', () => {
  // The check itself must see what it is there to catch, or a green run proves nothing.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-arch-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  };
  write('src/low/a.ts', "import type { B } from './b.js';\nexport type A = B;\n");
  write('src/low/b.ts', "export type B = import('./c.js').C;\n");
  write('src/low/c.ts', "import { a } from '../high/x.js';\nexport type C = typeof a;\n");
  write('src/high/x.ts', "import type { A } from '../low/a.js';\nexport const a = 1 as unknown as A;\n");
  write('src/high/y.ts', "export * from './z.js';\n");
  write('src/high/z.ts', "import './y.js';\n");
  write('src/types/t.d.ts', "import '../high/x.js';\n");
  const tree = sourceFiles(dir, ['src']);
  const treeEdges = importEdges(dir, tree);

  it('finds cycles through type-only imports, import() types and re-exports', () => {
    expect(tree).toEqual([
      'src/high/x.ts',
      'src/high/y.ts',
      'src/high/z.ts',
      'src/low/a.ts',
      'src/low/b.ts',
      'src/low/c.ts',
    ]);
    expect(
      importCycles(tree, treeEdges)
        .map((c) => c.join(' '))
        .sort(),
    ).toEqual(['src/high/x.ts src/low/a.ts src/low/b.ts src/low/c.ts', 'src/high/y.ts src/high/z.ts']);
  });

  it('finds an import into a higher layer and allows one into a lower layer', () => {
    const table = [
      { layer: 0, folder: 'src/low' },
      { layer: 1, folder: 'src/high' },
    ];
    expect(upwardImports(treeEdges, table)).toEqual([
      'src/low/c.ts -> src/high/x.ts (src/low is layer 0, src/high is layer 1)',
    ]);
  });
});
