// viz: Plotly figure spec -> tslab display, HTML file, PNG (headless Chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import * as viz from '../lib/src/viz';
import * as experiments from '../lib/src/experiments';
import { showFigure, DATA_ATTR, FIGURE_ATTR, PROTOCOL_ATTR } from '../lib/src/notebook';

const barFig: viz.Figure = {
  data: [{ type: 'bar', x: ['a', 'b', 'c'], y: [3, 1, 2], marker: { color: '#ff0000' } }],
  layout: { title: { text: 'viz test' }, margin: { t: 40, r: 10, b: 30, l: 30 } },
};

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-viz-test-'));
}

/** Run `fn` with environment variables set (undefined: unset), restoring them afterwards. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

/** Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) into its size and RGB pixels. */
function decodePNG(buf: Buffer): { width: number; height: number; rgb: (x: number, y: number) => number[] } {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      channels = { 2: 3, 6: 4 }[data[9]] ?? 0;
      assert.ok(channels, `colour type ${data[9]} is RGB or RGBA`);
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  assert.equal(raw.length, height * (stride + 1), 'image data length');
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? px[y * stride + i - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? px[(y - 1) * stride + i - channels] : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else assert.equal(filter, 0, `PNG filter ${filter}`);
      px[y * stride + i] = (v + pred) & 0xff;
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => [...px.subarray(y * stride + x * channels, y * stride + x * channels + 3)],
  };
}

test('figureHTML is a standalone page with Plotly and the figure at the requested size', () => {
  const html = viz.figureHTML(barFig, { width: 320, height: 200, title: 'a < b' });
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /window\.Plotly ?= ?\w+/, 'the Plotly bundle inlined');
  assert.match(html, /"width":320,"height":200/);
  assert.match(html, /<title>a &lt; b<\/title>/);
  // The layout's own size is used when no size is given.
  const sized = viz.figureDiv({ data: [], layout: { width: 640, height: 360 } });
  assert.match(sized.html, /el\.style\.width="640px";el\.style\.height="360px"/, 'sized when drawn');
  // A '</script>' inside the data must not end the script early.
  const tricky = viz.figureDiv({ data: [{ type: 'bar', name: '</script><b>' }] });
  assert.equal(tricky.html.match(/<\/script>/g)?.length, 1);
});

test('savePlot with plotlySrc shares one copy of Plotly beside the HTML files', () => {
  const dir = tmpDir();
  try {
    const a = viz.savePlot(barFig, path.join(dir, 'a'), { png: false, plotlySrc: 'lib/plotly.js' });
    viz.savePlot(barFig, path.join(dir, 'b'), { png: false, plotlySrc: 'lib/plotly.js' });
    assert.equal(a.png, null);
    assert.match(fs.readFileSync(a.html, 'utf8'), /<script src="lib\/plotly.js"><\/script>/);
    assert.equal(fs.statSync(path.join(dir, 'lib/plotly.js')).size, fs.statSync(viz.plotlyBundlePath()).size);
    assert.ok(fs.statSync(a.html).size < 10_000, 'no inlined Plotly');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Run `fn` with a fake tslab kernel (what a kernel sets before running cells), collecting what it displays. */
async function inFakeKernel<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; shown: { type: string; value: string | Uint8Array }[] }> {
  const shown: { type: string; value: string | Uint8Array }[] = [];
  const display = {
    html: (s: string) => shown.push({ type: 'html', value: s }),
    markdown: (s: string) => shown.push({ type: 'markdown', value: s }),
    png: (b: Uint8Array) => shown.push({ type: 'png', value: b }),
  };
  const g = globalThis as { __tslab__?: unknown };
  // The kernel's executor require, which maps 'tslab' to the kernel's own copy.
  g.__tslab__ = { require: (id: string) => (id === 'tslab' ? { display } : null) };
  try {
    return { result: await fn(), shown };
  } finally {
    delete g.__tslab__;
  }
}

test('show is a no-op outside a tslab kernel; in one, every figure can load Plotly by itself', async () => {
  assert.equal(viz.show(barFig), false);
  const { shown } = await inFakeKernel(() =>
    withEnv({ NCL_PLOTLY_SERVED: undefined, NCL_NB_STATIC: undefined }, () => {
      assert.equal(viz.show(barFig), true);
      assert.equal(viz.show(barFig, { width: 300 }), true);
    }),
  );
  assert.deepEqual(
    shown.map((s) => s.type),
    ['html', 'html'],
  );
  const [first, second] = shown.map((s) => s.value as string);
  // A kernel that `npm run kernel` did not register sends the bundle once, with its first figure.
  assert.match(first, /window\.Plotly ?= ?\w+/, 'the first figure brings Plotly');
  assert.doesNotMatch(second, /window\.Plotly ?= ?\w+/, 'later figures do not');
  // Every figure (so also one drawn after the page was reloaded) loads the bundle from Jupyter when the page has none.
  for (const html of [first, second]) assert.ok(html.includes(`"${viz.PLOTLY_NBEXTENSION}"`), 'loader');
  assert.match(second, /Plotly\.newPlot\(el,/);
  assert.match(second, /"width":300/);
  // Registered by `npm run kernel`: no inline bundle at all.
  const served = await inFakeKernel(() =>
    withEnv({ NCL_PLOTLY_SERVED: '1', NCL_NB_STATIC: undefined }, () => viz.show(barFig)),
  );
  assert.ok((served.shown[0].value as string).length < 5_000, 'no inline Plotly');
});

test('the figure loader draws in a page without Plotly once the bundle is loaded, and says so when it is not', () => {
  // The loader's script, run against a minimal fake page: it must queue the figure, add one <script> for the
  // bundle (one per page, however many figures), and draw every queued figure when that script loads.
  const { html: a } = viz.figureDiv(barFig, { id: 'fa', plotlyFrom: viz.PLOTLY_NBEXTENSION });
  const { html: b } = viz.figureDiv(barFig, { id: 'fb', plotlyFrom: viz.PLOTLY_NBEXTENSION });
  const scripts: { src: string; onload?: () => void; onerror?: () => void }[] = [];
  const drawn: string[] = [];
  const divs: Record<string, { style: Record<string, string>; textContent: string }> = {
    fa: { style: {}, textContent: '' },
    fb: { style: {}, textContent: '' },
  };
  const win: Record<string, unknown> = {};
  const document = {
    body: { getAttribute: (k: string) => (k === 'data-base-url' ? '/base/' : null) },
    getElementById: (id: string) => divs[id] ?? null,
    createElement: () => ({}) as { src: string },
    head: { appendChild: (s: { src: string }) => scripts.push(s) },
  };
  const run = (html: string) => {
    const code = html.slice(html.lastIndexOf('<script>') + 8, html.lastIndexOf('</script>'));
    new Function('window', 'document', 'setTimeout', code)(win, document, () => {});
  };
  run(a);
  run(b);
  assert.equal(scripts.length, 1, 'one bundle per page');
  assert.equal(scripts[0].src, `/base/${viz.PLOTLY_NBEXTENSION}`);
  win.Plotly = { newPlot: (el: unknown) => drawn.push(el === divs.fa ? 'fa' : 'fb') };
  scripts[0].onload!();
  assert.deepEqual(drawn, ['fa', 'fb']);
  assert.equal(divs.fa.style.width, '900px', 'the default width, set when drawn');
  // A page where the bundle cannot be loaded: the figure says where it looked.
  const failing: typeof scripts = [];
  const win2: Record<string, unknown> = {};
  const doc2 = { ...document, head: { appendChild: (s: { src: string }) => failing.push(s) } };
  const code = a.slice(a.lastIndexOf('<script>') + 8, a.lastIndexOf('</script>'));
  new Function('window', 'document', 'setTimeout', code)(win2, doc2, () => {});
  failing[0].onerror!();
  assert.match(
    divs.fa.textContent,
    /Plotly could not be loaded from \/base\/nbextensions\/ncl-lab\/plotly\.min\.js/,
  );
});

test('showFigure(id) shows a paper figure with the numbers of results/, and refuses other numbers when strict', async () => {
  const dir = tmpDir();
  try {
    // fig1 needs no runs: a results folder with its manifest entry and data file, as `ncl reproduce` writes them.
    const built = await experiments.buildFigure('fig1', { protocol: 'mini', seeds: 3, resultsDir: dir });
    const entry = {
      id: 'fig1',
      title: 'Fig. 1',
      png: 'fig1.png',
      html: 'fig1.html',
      data: 'fig1.json',
      protocol: 'mini',
      settings: 'test settings',
      seeds: [0, 1, 2],
      commit: 'abc123',
      runs: [],
      claim: built.claim,
      measured: built.measured,
      verdict: built.verdict,
      generated: '2026-01-02T03:04:05.000Z',
    };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ description: '', figures: [entry] }));
    const dataFile = path.join(dir, 'fig1.json');
    // The data file as `ncl reproduce` writes it (experiments/files.ts checks it on read).
    const dataOf = (data: unknown) =>
      JSON.stringify(
        {
          id: 'fig1',
          title: 'Fig. 1',
          protocol: 'mini',
          seeds: [0, 1, 2],
          commit: 'abc123',
          data,
          table: null,
        },
        null,
        1,
      );
    fs.writeFileSync(dataFile, dataOf(built.data));
    const lines: string[] = [];
    const opts = { protocol: 'mini', resultsDir: dir, log: (l: string) => lines.push(l), png: false };
    const { result, shown } = await inFakeKernel(() => showFigure('fig1', opts));
    assert.equal(result?.entry?.commit, 'abc123');
    assert.deepEqual(
      shown.map((s) => s.type),
      ['html'],
    );
    const html = shown[0].value as string;
    assert.ok(html.includes(`data-${FIGURE_ATTR}="fig1"`) && html.includes(`data-${PROTOCOL_ATTR}="mini"`));
    const digest = 'sha256:' + createHash('sha256').update(fs.readFileSync(dataFile)).digest('hex');
    assert.ok(html.includes(`data-${DATA_ATTR}="fig1.json ${digest}"`), 'the data file and its digest');
    assert.ok(lines.includes(`measured:  ${entry.measured}`), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('from:') && l.includes('commit abc123, 2026-01-02')));
    assert.ok(!lines.some((l) => l.startsWith('note:')), 'no note when the numbers agree');

    // results/ that holds other numbers than the runs give: a note, or an error when strict.
    fs.writeFileSync(dataFile, dataOf({ other: 1 }));
    lines.length = 0;
    await inFakeKernel(() => showFigure('fig1', opts));
    assert.ok(
      lines.some((l) => /^note: .*other numbers than .*fig1\.json.*ncl reproduce fig1/.test(l)),
      lines.join('\n'),
    );
    await assert.rejects(
      inFakeKernel(() => showFigure('fig1', { ...opts, strict: true })),
      /fig1: the runs give other numbers than .*fig1\.json/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('showFigure(id) of a stale entry whose new runs are not finished says so in one line, also when strict', async () => {
  const dir = tmpDir();
  try {
    const today = experiments
      .planRuns({ ids: ['fig12a'], protocol: 'mini', seeds: 3, resultsDir: dir })
      .map((r) => r.dir);
    const entry = (runs: string[]) => ({
      id: 'fig12a',
      title: 'Fig. 12a',
      png: 'fig12a.png',
      html: 'fig12a.html',
      data: 'fig12a.json',
      protocol: 'mini',
      settings: 'test settings',
      seeds: [0, 1, 2],
      commit: 'abc123',
      runs,
      claim: 'c',
      measured: 'm',
      verdict: 'inconclusive',
      generated: '2026-01-02T03:04:05.000Z',
    });
    const lines: string[] = [];
    const opts = {
      protocol: 'mini',
      resultsDir: dir,
      log: (l: string) => lines.push(l),
      png: false,
      strict: true,
    };

    // Built from runs that fig12a no longer trains: one line, no figure, no error.
    const old = [0, 1, 2, 3, 4, 5].map((i) => `runs/mini/ncl-00000000000000${i}0`);
    fs.writeFileSync(
      path.join(dir, 'manifest.json'),
      JSON.stringify({ description: '', figures: [entry(old)] }),
    );
    const { result, shown } = await inFakeKernel(() => showFigure('fig12a', opts));
    assert.equal(result, null);
    assert.deepEqual(shown, []);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(
      lines[0],
      new RegExp(
        `^fig12a: not shown: .* \\(stale\\); 0 of the ${today.length} runs of today are finished; ` +
          '`ncl reproduce fig12a --protocol mini --seeds 3` rebuilds it',
      ),
    );

    // Built from today's runs, which are missing: a strict render stops.
    fs.writeFileSync(
      path.join(dir, 'manifest.json'),
      JSON.stringify({ description: '', figures: [entry(today)] }),
    );
    await assert.rejects(
      inFakeKernel(() => showFigure('fig12a', opts)),
      /fig12a: no finished run .*ncl reproduce fig12a/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const chromium = viz.findChromium();

test(
  'savePlot renders a PNG of the requested size that shows the plot',
  { skip: !chromium && 'no Chromium' },
  () => {
    const dir = tmpDir();
    try {
      const out = viz.savePlot(barFig, path.join(dir, 'sub', 'bars'), { width: 320, height: 200 });
      assert.ok(fs.statSync(out.html).size > 1_000_000, 'HTML with Plotly inlined');
      const png = decodePNG(fs.readFileSync(out.png!));
      assert.equal(png.width, 320);
      assert.equal(png.height, 200);
      let red = 0;
      let nonWhite = 0;
      for (let y = 0; y < png.height; y++) {
        for (let x = 0; x < png.width; x++) {
          const [r, g, b] = png.rgb(x, y);
          if (r > 200 && g < 80 && b < 80) red++;
          if (r < 245 || g < 245 || b < 245) nonWhite++;
        }
      }
      // The three red bars cover a good part of the plot area; axes, ticks and title add other ink.
      assert.ok(red > 0.05 * 320 * 200, `red bar pixels: ${red}`);
      assert.ok(nonWhite > red, 'more than the bars drawn');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('PNG export without a Chromium fails with a clear message', () => {
  const dir = tmpDir();
  try {
    withEnv({ CHROMIUM: '/nowhere/chromium' }, () => {
      assert.equal(viz.findChromium(), null);
      assert.throws(
        () => viz.renderPNG(barFig, path.join(dir, 'x.png')),
        /cannot write .*x\.png: CHROMIUM=\/nowhere\/chromium is not an executable Chromium/,
      );
    });
    withEnv({ CHROMIUM: undefined, PATH: dir }, () => {
      assert.equal(viz.findChromium(), null);
      assert.throws(
        () => viz.savePlot(barFig, path.join(dir, 'y')),
        /cannot write .*y\.png: no Chromium found for PNG export .*apt-get install chromium.*CHROMIUM=/s,
      );
    });
    assert.ok(!fs.existsSync(path.join(dir, 'x.png')) && !fs.existsSync(path.join(dir, 'y.png')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
