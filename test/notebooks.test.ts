// The committed notebooks: tslab kernel, the lib imported by its package name (tslab compiles nothing outside
// notebooks/), no measured number typed into their Markdown. Three kinds:
//   - Figure notebooks (a cell calls showFigure('<id>')) carry the outputs `npm run notebooks:render` wrote from the
//     committed results: each figure cell must show what results/manifest.json and results/<id>.json hold now (the
//     figure's data file by its sha256, the measured line, the verdict, the commit, the table), with a PNG beside the
//     interactive figure and no Plotly bundle.
//   - Rendered tutorials (metadata.ncl.outputs = { protocol, backend }: notebooks 00-03) carry the outputs
//     `npm run notebooks:render` wrote by executing them under that protocol and backend (smoke, cpu: the same digits
//     on every machine), with nothing machine-dependent in them. `npm run notebooks` executes them under the same
//     settings and then runs this file with NCL_NB_EXECUTED naming its executed copies: each cell's committed outputs
//     must be what the code prints now (PNGs aside: those come from the machine's Chromium).
//   - Other tutorials are committed without outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { entryStatus } from '../lib/src/experiments/reproduce';
import type { Manifest } from '../lib/src/experiments/reproduce';
import { DATA_ATTR, FIGURE_ATTR, PROTOCOL_ATTR } from '../lib/src/notebook';
import { figureDiv } from '../lib/src/viz';

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
interface Notebook {
  nbformat: number;
  metadata: { kernelspec?: { name?: string }; ncl?: { outputs?: { protocol: string; backend: string } } };
  cells: Cell[];
}
const readNotebook = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;

/** Issue #41: the teaching notebooks show their outputs on GitHub. */
const RENDERED_TUTORIALS = ['00_setup', '01_long_tailed_data', '02_losses', '03_training'];

/** Executed copies to compare with the committed notebooks (set by scripts/run-notebooks.sh), by file name. */
const executed = new Map(
  (process.env.NCL_NB_EXECUTED ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((f) => [path.basename(f), f]),
);

/**
 * A cell's outputs as the committed-vs-executed check compares them: the streams (consecutive chunks of one stream
 * joined), the displayed data, and of an interactive figure its div and Plotly spec. Left out: PNGs (rendered by the
 * machine's Chromium, and only by the render) and the figure's script around the spec (it differs with and without
 * a PNG twin to hide).
 */
function comparableOutputs(outputs: Output[]): unknown[] {
  const out: unknown[] = [];
  for (const o of outputs) {
    if (o.output_type === 'stream') {
      const last = out[out.length - 1] as { stream?: string; text: string } | undefined;
      if (last && last.stream === o.name) last.text += join(o.text);
      else out.push({ stream: o.name, text: join(o.text) });
      continue;
    }
    if (o.output_type === 'error') {
      out.push({ error: o });
      continue;
    }
    const data: Record<string, unknown> = {};
    for (const [mime, v] of Object.entries(o.data ?? {})) {
      if (mime === 'image/png') continue;
      const text = join(v);
      const div = /<div id="[^"]*" class="ncl-plot"[^>]*><\/div>/.exec(text)?.[0];
      const spec = /var s=(.*?);var g=window\.__nclPlotly/.exec(text)?.[1];
      data[mime] =
        mime === 'text/html' && div && spec ? { plot: div, spec: JSON.parse(spec) as unknown } : text;
    }
    if (Object.keys(data).length > 0) out.push({ [o.output_type]: data });
  }
  return out;
}

test('the committed-vs-executed comparison sees a changed digit or point, not PNGs, chunking or the PNG-hiding script', () => {
  const fig = { data: [{ type: 'scatter', y: [1, 2.5] }], layout: {} };
  const html = (y: number[], hidesStaticTwin: boolean) => ({
    output_type: 'display_data',
    data: {
      'text/html': figureDiv({ ...fig, data: [{ ...fig.data[0], y }] }, { id: 'p1', hidesStaticTwin }).html,
    },
  });
  const committed: Output[] = [
    { output_type: 'stream', name: 'stdout', text: ['top-1 12.5%\n', 'done\n'] },
    { output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=' } },
    html([1, 2.5], true),
  ];
  const ran: Output[] = [
    { output_type: 'stream', name: 'stdout', text: 'top-1 12.5%\n' },
    { output_type: 'stream', name: 'stdout', text: 'done\n' },
    html([1, 2.5], false),
  ];
  assert.notEqual(join(committed[2].data?.['text/html']), join(ran[2].data?.['text/html']));
  assert.deepEqual(comparableOutputs(committed), comparableOutputs(ran));
  const digit = [{ ...ran[0], text: 'top-1 12.6%\n' }, ran[1], ran[2]];
  assert.notDeepEqual(comparableOutputs(committed), comparableOutputs(digit));
  assert.notDeepEqual(
    comparableOutputs(committed),
    comparableOutputs([ran[0], ran[1], html([1, 2.4], false)]),
  );
  assert.notDeepEqual(comparableOutputs(committed), comparableOutputs(ran.slice(0, 2)));
  const stderr = [ran[0], { output_type: 'stream', name: 'stderr', text: 'done\n' }, ran[2]];
  assert.notDeepEqual(comparableOutputs(committed), comparableOutputs(stderr));
});

test('there is a setup notebook', () => {
  assert.ok(notebooks.includes('00_setup.ipynb'), `notebooks/: ${notebooks.join(', ')}`);
});

for (const name of notebooks) {
  const file = path.join(dir, name);
  const nb = readNotebook(file);
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

  const rendered = nb.metadata.ncl?.outputs;
  if (RENDERED_TUTORIALS.includes(name.replace(/\.ipynb$/, ''))) {
    test(`notebooks/${name} is a rendered tutorial (metadata.ncl.outputs)`, () => {
      assert.ok(!isFigureNotebook, 'a tutorial');
      assert.deepEqual(rendered, { protocol: 'smoke', backend: 'cpu' });
    });
  }
  if (!isFigureNotebook && rendered) {
    const rerender = `: run \`npm run notebooks:render -- notebooks/${name}\``;
    test(`notebooks/${name} carries its outputs (${rendered.protocol}, ${rendered.backend}), nothing machine-dependent`, () => {
      assert.ok(fs.statSync(file).size < 4_000_000, `${name} is ${fs.statSync(file).size} bytes`);
      nb.cells.forEach((cell, i) => {
        if (cell.cell_type !== 'code') return;
        const outputs = cell.outputs ?? [];
        assert.ok(outputs.length > 0, `cell ${i} has no outputs${rerender}`);
        outputs.forEach((o, j) => {
          assert.notEqual(o.output_type, 'error', `cell ${i} failed`);
          assert.ok(!(o.output_type === 'stream' && o.name === 'stderr'), `cell ${i} wrote to stderr`);
          const html = join(o.data?.['text/html']);
          if (html.includes('class="ncl-plot"')) {
            assert.ok(
              outputs[j - 1]?.data?.['image/png'],
              `cell ${i}: no PNG before the interactive figure${rerender}`,
            );
            assert.ok(
              html.length < 300_000,
              `cell ${i}: ${html.length} characters of HTML (an inlined Plotly bundle?)`,
            );
          }
          const text =
            o.output_type === 'stream'
              ? join(o.text)
              : join(o.data?.['text/plain']) + join(o.data?.['text/markdown']);
          // What differs between machines or runs: paths, dates, timings, process ids.
          for (const [what, re] of [
            ['an absolute path', /(^|[\s'"(])\/(tmp|work|home|root|usr|var|opt)\//],
            ['a date', /\b20\d\d-\d\d-\d\d\b/],
            ['a timing', /\d s\b|\bimg\/s\b|\bseconds\b/],
          ] as const) {
            assert.doesNotMatch(text, re, `cell ${i} prints ${what}: make it deterministic`);
          }
        });
      });
    });

    const copy = executed.get(name);
    test(`notebooks/${name}: its committed outputs are what its code prints now`, (t) => {
      if (!copy) {
        t.skip('run by `npm run notebooks`, which sets NCL_NB_EXECUTED to the copies it executed');
        return;
      }
      const ran = readNotebook(copy);
      assert.deepEqual(
        ran.cells.map((c) => join(c.source)),
        nb.cells.map((c) => join(c.source)),
        `${copy} was executed from other cells than notebooks/${name}`,
      );
      nb.cells.forEach((cell, i) => {
        if (cell.cell_type !== 'code') return;
        assert.deepEqual(
          comparableOutputs(cell.outputs ?? []),
          comparableOutputs(ran.cells[i].outputs ?? []),
          `cell ${i}: the committed outputs (actual) differ from what the code prints now (expected)${rerender}`,
        );
      });
    });
    continue;
  }

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
      if (!entry) {
        // Never built, its runs being trained: the cell says so in one line and shows no figure.
        const text = outputs.map((o) => (o.output_type === 'stream' ? join(o.text) : '')).join('');
        assert.ok(
          outputs.every((o) => o.output_type === 'stream'),
          `cell ${i} shows ${id}, which results/manifest.json does not have (mini)${rerender}`,
        );
        assert.match(text, new RegExp(`^${id}: not built yet: \\d+ of the \\d+ runs`), `cell ${i}`);
        return;
      }
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
