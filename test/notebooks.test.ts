// The committed notebooks: tslab kernel, the lib imported by its package name (tslab compiles nothing outside
// notebooks/), no measured number typed into their Markdown. Tutorials (no showFigure('<id>')) are committed without
// outputs. Figure notebooks carry the outputs `npm run notebooks:render` wrote from the committed results: each figure
// cell must show what results/manifest.json and results/<id>.json hold now (the figure's data file by its sha256, the
// measured line, the verdict, the commit, the table), with a PNG beside the interactive figure and no Plotly bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { entryStatus } from '../lib/src/experiments/reproduce';
import type { Manifest } from '../lib/src/experiments/reproduce';
import { DATA_ATTR, FIGURE_ATTR, PROTOCOL_ATTR } from '../lib/src/notebook';

const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'notebooks');
const results = path.join(root, 'results');
const notebooks = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')) : [];
const manifest = JSON.parse(fs.readFileSync(path.join(results, 'manifest.json'), 'utf8')) as Manifest;

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}
const join = (s: string | string[] | undefined) => (Array.isArray(s) ? s.join('') : (s ?? ''));

test('there is a setup notebook', () => {
  assert.ok(notebooks.includes('00_setup.ipynb'), `notebooks/: ${notebooks.join(', ')}`);
});

for (const name of notebooks) {
  const file = path.join(dir, name);
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nbformat: number;
    metadata: { kernelspec?: { name?: string } };
    cells: Cell[];
  };
  const figureOf = (cell: Cell) => /showFigure\('(\w+)'/.exec(join(cell.source))?.[1] ?? null;
  const isFigureNotebook = nb.cells.some((c) => c.cell_type === 'code' && figureOf(c));

  test(`notebooks/${name}: tslab kernel, the lib by its name, no hand-typed measurements`, () => {
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.metadata.kernelspec?.name, 'tslab', 'kernelspec.name');
    nb.cells.forEach((cell, i) => {
      const source = join(cell.source);
      if (cell.cell_type === 'code') {
        assert.doesNotMatch(source, /from ['"](\.\.\/)+lib\//, `cell ${i}: import 'ncl-lab', not ../lib`);
      } else {
        // A measured number goes stale at the next run: the cell prints it instead.
        assert.doesNotMatch(source, /What `mini` shows/, `cell ${i}: a hand-written reading of the results`);
        assert.doesNotMatch(source, /\d\.\d+ ?± ?\d/, `cell ${i}: a mean ± std typed by hand`);
      }
    });
  });

  if (!isFigureNotebook) {
    test(`notebooks/${name} (a tutorial) is committed without outputs`, () => {
      nb.cells.forEach((cell, i) => {
        if (cell.cell_type !== 'code') return;
        assert.deepEqual(cell.outputs, [], `cell ${i} has outputs: clear them before committing`);
        assert.equal(cell.execution_count ?? null, null, `cell ${i} has an execution count`);
      });
    });
    continue;
  }

  test(`notebooks/${name} shows the numbers of results/ (npm run notebooks:render)`, () => {
    const rerender = `: run \`npm run notebooks:render -- notebooks/${name}\``;
    assert.ok(fs.statSync(file).size < 4_000_000, `${name} is ${fs.statSync(file).size} bytes`);
    nb.cells.forEach((cell, i) => {
      if (cell.cell_type !== 'code') return;
      const outputs = cell.outputs ?? [];
      for (const o of outputs) {
        assert.notEqual(o.output_type, 'error', `cell ${i} failed`);
        assert.ok(!(o.output_type === 'stream' && o.name === 'stderr'), `cell ${i} wrote to stderr`);
      }
      const id = figureOf(cell);
      if (!id) return;
      const entry = manifest.figures.find((f) => f.id === id && f.protocol === 'mini');
      const stale = !!entry && entryStatus(results, entry).stale;
      if (outputs.length === 0) {
        // Not rendered: acceptable only while results/ has no current entry for it (its runs are being redone).
        assert.ok(!entry || stale, `cell ${i} (${id}) has no outputs${rerender}`);
        return;
      }
      if (stale) {
        // Being re-run: the cell says so in one line and shows no figure (showFigure's stale branch).
        const text = outputs.map((o) => (o.output_type === 'stream' ? join(o.text) : '')).join('');
        assert.ok(
          outputs.every((o) => o.output_type === 'stream'),
          `cell ${i}: ${id} is stale in results/ but the cell shows a figure${rerender}`,
        );
        assert.match(
          text,
          new RegExp(`^${id}: not shown: .* \\(stale\\); \\d+ of the \\d+ runs`),
          `cell ${i}`,
        );
        return;
      }
      assert.ok(entry, `cell ${i} shows ${id}, which results/manifest.json does not have (mini)${rerender}`);
      const html = outputs.map((o) => join(o.data?.['text/html'])).join('');
      assert.ok(html.includes(`data-${FIGURE_ATTR}="${id}"`), `cell ${i}: no interactive figure ${id}`);
      assert.ok(html.includes(`data-${PROTOCOL_ATTR}="mini"`), `cell ${i}: not the mini protocol`);
      const digest =
        'sha256:' +
        createHash('sha256')
          .update(fs.readFileSync(path.join(results, entry.data)))
          .digest('hex');
      assert.ok(
        html.includes(`data-${DATA_ATTR}="${entry.data} ${digest}"`),
        `cell ${i}: ${id} was rendered from another results/${entry.data}${rerender}`,
      );
      assert.ok(
        html.length < 300_000,
        `cell ${i}: ${html.length} characters of HTML (an inlined Plotly bundle?)`,
      );
      const pngAt = outputs.findIndex((o) => o.data?.['image/png']);
      const htmlAt = outputs.findIndex((o) => o.data?.['text/html']);
      assert.ok(
        pngAt >= 0 && pngAt < htmlAt,
        `cell ${i}: the PNG for static viewers, before the interactive figure`,
      );
      const text = outputs
        .filter((o) => o.output_type === 'stream')
        .map((o) => join(o.text))
        .join('');
      for (const line of [`measured:  ${entry.measured}\n`, `verdict:   ${entry.verdict}\n`]) {
        assert.ok(text.includes(line), `cell ${i}: "${line.trim()}" not printed${rerender}`);
      }
      assert.ok(
        text.includes(`at commit ${entry.commit}, `),
        `cell ${i}: not built at ${entry.commit}${rerender}`,
      );
      assert.doesNotMatch(text, /^note:/m, `cell ${i}: printed a note`);
      const { table } = JSON.parse(fs.readFileSync(path.join(results, entry.data), 'utf8')) as {
        table: string | null;
      };
      if (table) {
        const shown = outputs.map((o) => join(o.data?.['text/markdown'])).filter(Boolean);
        assert.deepEqual(shown, [table], `cell ${i}: the table of results/${entry.data}${rerender}`);
      }
    });
  });
}
