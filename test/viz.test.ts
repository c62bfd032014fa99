// viz: Plotly figure spec -> tslab display, HTML file, PNG (headless Chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as viz from '../lib/src/viz';

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
  assert.match(sized.html, /style="width:640px;height:360px"/);
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

test('show is a no-op outside a tslab kernel, and displays HTML through the kernel tslab', () => {
  assert.equal(viz.show(barFig), false);
  const shown: string[] = [];
  const g = globalThis as { __tslab__?: unknown };
  // What a tslab kernel sets before running cells: its executor's require, which maps 'tslab' to the kernel's copy.
  g.__tslab__ = {
    require: (id: string) => (id === 'tslab' ? { display: { html: (s: string) => shown.push(s) } } : null),
  };
  try {
    assert.equal(viz.show(barFig), true);
    assert.equal(viz.show(barFig, { width: 300 }), true);
  } finally {
    delete g.__tslab__;
  }
  assert.equal(shown.length, 2);
  assert.match(shown[0], /window\.Plotly ?= ?\w+/, 'the first figure brings Plotly');
  assert.doesNotMatch(shown[1], /window\.Plotly ?= ?\w+/, 'later figures reuse it');
  assert.match(shown[1], /Plotly\.newPlot\("ncl-plot-[0-9a-f]+"/);
  assert.match(shown[1], /"width":300/);
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
