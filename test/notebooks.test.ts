// The committed notebooks: tslab kernel, no outputs (executed copies belong in .scratch/notebooks, see
// scripts/run-notebooks.sh), and the lib imported by its package name (tslab compiles nothing outside notebooks/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = path.resolve(__dirname, '..', 'notebooks');
const notebooks = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')) : [];

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
}

test('there is a setup notebook', () => {
  assert.ok(notebooks.includes('00_setup.ipynb'), `notebooks/: ${notebooks.join(', ')}`);
});

for (const name of notebooks) {
  test(`notebooks/${name} is committed clean, for the tslab kernel`, () => {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as {
      nbformat: number;
      metadata: { kernelspec?: { name?: string } };
      cells: Cell[];
    };
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.metadata.kernelspec?.name, 'tslab', 'kernelspec.name');
    nb.cells.forEach((cell, i) => {
      if (cell.cell_type !== 'code') return;
      assert.deepEqual(cell.outputs, [], `cell ${i} has outputs: clear them before committing`);
      assert.equal(cell.execution_count ?? null, null, `cell ${i} has an execution count`);
      const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
      assert.doesNotMatch(source, /from ['"](\.\.\/)+lib\//, `cell ${i}: import 'ncl-lab', not ../lib`);
    });
  });
}
