// The import graph of a source tree, as the architecture test reads it: every relative import, type-only
// ones included (a type import ties two modules' designs together as surely as a value import does).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  from: string;
  to: string;
}

/** Every `.ts` file below `dirs` (relative to `root`), `.d.ts` files left out: they declare, they import nothing of ours. */
export function sourceFiles(root: string, dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(child);
    }
  };
  for (const dir of dirs) if (fs.existsSync(path.join(root, dir))) walk(dir);
  return out.sort();
}

/** Relative imports of each file, resolved to repository paths (`./x.js` names `x.ts`). Package imports are not ours. */
export function importEdges(root: string, files: string[]): ImportEdge[] {
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName)).replace(/\.js$/, '.ts');
      const to = known.has(target) ? target : known.has(`${target}.ts`) ? `${target}.ts` : target;
      edges.push({ from: file, to });
    }
  }
  return edges;
}

/** Strongly connected components of more than one file (or a file importing itself): each is one import cycle. */
export function importCycles(files: string[], edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  // Tarjan, iterative: the tree is deep enough that recursion is not worth the risk.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of files) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: start, i: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const succ = next.get(frame.node) ?? [];
      if (frame.i < succ.length) {
        const w = succ[frame.i++]!;
        if (!next.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const scc: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          scc.push(w);
        } while (w !== frame.node);
        const selfLoop = scc.length === 1 && succ.includes(frame.node);
        if (scc.length > 1 || selfLoop) cycles.push(scc.sort());
      }
    }
  }
  return cycles;
}

export interface LayerRow {
  layer: number;
  folder: string;
}

/** The folder a file belongs to in the layer table: the longest listed folder that contains it. */
export function folderOf(file: string, rows: LayerRow[]): LayerRow | undefined {
  let best: LayerRow | undefined;
  for (const row of rows) {
    if ((file.startsWith(`${row.folder}/`) || file === row.folder) && (!best || row.folder.length > best.folder.length))
      best = row;
  }
  return best;
}

/** Imports from a lower layer into a higher one, as `from -> to (layer a -> b)` lines. */
export function upwardImports(edges: ImportEdge[], rows: LayerRow[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const a = folderOf(e.from, rows);
    const b = folderOf(e.to, rows);
    if (a && b && b.layer > a.layer)
      out.push(`${e.from} -> ${e.to} (${a.folder} is layer ${a.layer}, ${b.folder} is layer ${b.layer})`);
  }
  return out;
}
