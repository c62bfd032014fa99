// The lib's modules form layers: no module imports, directly or through others, a module that imports it back
// (e.g. notebook.ts sits above viz/ and experiments/, and viz/ imports nothing from experiments/). Imports are read
// with the TypeScript parser; `import type` / `export type` declarations are left out (they vanish at run time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** The files of `dir` that `file` imports (relative specifiers only: './x', '../y/index'). */
function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const out: string[] = [];
  for (const st of sf.statements) {
    let spec: ts.Expression | undefined;
    if (ts.isImportDeclaration(st) && !st.importClause?.isTypeOnly) spec = st.moduleSpecifier;
    else if (ts.isExportDeclaration(st) && !st.isTypeOnly) spec = st.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), spec.text);
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    if (hit) out.push(hit);
  }
  return out;
}

/** Every import cycle under `dir` (Tarjan's strongly connected components of more than one file, or a self-import). */
function importCycles(dir: string): string[][] {
  const files = sourceFiles(dir);
  const edges = new Map(files.map((f) => [f, importsOf(f)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || edges.get(v)!.includes(v))
      cycles.push(scc.map((f) => path.relative(dir, f)).sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

test('importCycles finds a cycle through three files, and none once it is type-only', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-imports-'));
  try {
    fs.mkdirSync(path.join(dir, 'viz'));
    fs.writeFileSync(path.join(dir, 'a.ts'), "import { b } from './viz';\nexport const a = b;\n");
    fs.writeFileSync(path.join(dir, 'viz', 'index.ts'), "export { b } from './b';\n");
    fs.writeFileSync(path.join(dir, 'viz', 'b.ts'), "import { a } from '../a';\nexport const b = 1 + a;\n");
    fs.writeFileSync(path.join(dir, 'c.ts'), "import { a } from './a';\nexport const c = a;\n");
    assert.deepEqual(importCycles(dir), [['a.ts', 'viz/b.ts', 'viz/index.ts']]);
    fs.writeFileSync(path.join(dir, 'viz', 'b.ts'), "import type { a } from '../a';\nexport const b = 1;\n");
    assert.deepEqual(importCycles(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

for (const dir of ['lib/src', 'packages/kernels/src']) {
  test(`${dir} has no import cycles`, () => {
    const cycles = importCycles(path.join(root, dir));
    assert.deepEqual(cycles, [], cycles.map((c) => `cycle: ${c.join(' ⇄ ')}`).join('\n'));
  });
}
