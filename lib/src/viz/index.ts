/**
 * Plotly figures: one spec, shown two ways.
 *   - `show(fig)`: a tslab display (interactive HTML in Jupyter); outside a kernel it is a no-op that returns false.
 *   - `savePlot(fig, basePath)`: writes `basePath.html` (interactive) and `basePath.png` (rendered by headless
 *     Chromium, Debian's `chromium`). PNG export fails with a clear message when no Chromium is found.
 * The figure spec is plain Plotly JSON: `{ data: [...traces], layout: {...} }`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Figure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

let plotlySource: string | null = null;
/** The plotly.js-dist bundle (minified), read once. */
export function plotlyBundle(): string {
  if (plotlySource == null) {
    const file = require.resolve('plotly.js-dist/plotly.js');
    const min = path.join(path.dirname(file), 'plotly.min.js');
    plotlySource = fs.readFileSync(fs.existsSync(min) ? min : file, 'utf8');
  }
  return plotlySource;
}

let counter = 0;
/** An HTML fragment that draws `fig` into a fresh div, loading Plotly from `plotlyScript` (a <script> tag). */
export function figureDiv(
  fig: Figure,
  opts: { width?: number; height?: number } = {},
): { id: string; html: string } {
  const id = `ncl-plot-${process.pid}-${++counter}`;
  const w = opts.width ?? 900;
  const h = opts.height ?? 500;
  const layout = { width: w, height: h, ...fig.layout };
  const spec = JSON.stringify({
    data: fig.data,
    layout,
    config: { responsive: true, ...fig.config },
  }).replace(/</g, '\\u003c');
  const html =
    `<div id="${id}" style="width:${w}px;height:${h}px"></div>` +
    `<script>(function(){var s=${spec};var draw=function(){window.Plotly.newPlot("${id}",s.data,s.layout,s.config)};` +
    `if(window.Plotly){draw()}else{(window.__nclPlotlyQueue=window.__nclPlotlyQueue||[]).push(draw)}})();</script>`;
  return { id, html };
}

/** A standalone HTML page for `fig`; Plotly inline, or from `plotlySrc` (a relative path) when given. */
export function figureHTML(
  fig: Figure,
  opts: { width?: number; height?: number; plotlySrc?: string; title?: string } = {},
): string {
  const { html } = figureDiv(fig, opts);
  const lib = opts.plotlySrc
    ? `<script src="${opts.plotlySrc}"></script>`
    : `<script>${plotlyBundle()}</script>`;
  return (
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${opts.title ?? 'ncl-lab figure'}</title>${lib}</head>` +
    `<body style="margin:0">${html}</body></html>`
  );
}

let plotlySentToKernel = false;
/** Show `fig` in a tslab notebook. Returns false (and does nothing) outside a tslab kernel. */
export function show(fig: Figure, opts: { width?: number; height?: number } = {}): boolean {
  let tslab: { display: { html(s: string): void } };
  try {
    tslab = require('tslab');
  } catch {
    return false;
  }
  if (!process.env.TSLAB_KERNEL && !(globalThis as Record<string, unknown>).$$ && !isTslab()) return false;
  const { html } = figureDiv(fig, opts);
  let prelude = '';
  if (!plotlySentToKernel) {
    // Loaded once per kernel; queued draws run when it is there.
    prelude =
      `<script>if(!window.Plotly){${plotlyBundle()}\n}` +
      `(window.__nclPlotlyQueue||[]).forEach(function(f){f()});window.__nclPlotlyQueue=[];</script>`;
    plotlySentToKernel = true;
  }
  tslab.display.html(prelude + html);
  return true;
}

function isTslab(): boolean {
  return process.argv.some((a) => a.includes('tslab'));
}

/** Find a Chromium to render PNGs: $CHROMIUM, then the usual names on PATH. */
export function findChromium(): string | null {
  const candidates = [
    process.env.CHROMIUM,
    'chromium',
    'chromium-browser',
    'google-chrome',
    'google-chrome-stable',
  ];
  for (const c of candidates) {
    if (!c) continue;
    if (c.includes('/')) {
      if (fs.existsSync(c)) return c;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const p = path.join(dir, c);
      if (fs.existsSync(p)) return p;
    }
  }
  return null;
}

/** Render `fig` to a PNG file with headless Chromium. */
export function renderPNG(
  fig: Figure,
  pngPath: string,
  opts: { width?: number; height?: number } = {},
): void {
  const chromium = findChromium();
  if (!chromium) {
    throw new Error(
      `cannot write ${pngPath}: no Chromium found for PNG export (apt-get install chromium, or set CHROMIUM=/path)`,
    );
  }
  const w = opts.width ?? 900;
  const h = opts.height ?? 500;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-plot-'));
  try {
    const page = path.join(tmp, 'figure.html');
    fs.writeFileSync(
      page,
      figureHTML({ ...fig, config: { staticPlot: true, ...fig.config } }, { width: w, height: h }),
    );
    const out = path.join(tmp, 'figure.png');
    execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${path.join(tmp, 'profile')}`,
        `--window-size=${w},${h}`,
        '--virtual-time-budget=10000',
        `--screenshot=${out}`,
        `file://${page}`,
      ],
      { stdio: 'pipe', timeout: 120_000 },
    );
    if (!fs.existsSync(out)) throw new Error(`Chromium wrote no screenshot for ${pngPath}`);
    fs.mkdirSync(path.dirname(path.resolve(pngPath)), { recursive: true });
    fs.renameSync(out, pngPath + '.tmp');
    fs.renameSync(pngPath + '.tmp', pngPath);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Write `basePath.html` and `basePath.png`. The HTML loads Plotly from `plotlySrc` when given (e.g. a shared
 * `plotly.min.js` beside the results), else inlines it.
 */
export function savePlot(
  fig: Figure,
  basePath: string,
  opts: { width?: number; height?: number; plotlySrc?: string; title?: string; png?: boolean } = {},
): { html: string; png: string | null } {
  const html = basePath + '.html';
  fs.mkdirSync(path.dirname(path.resolve(html)), { recursive: true });
  fs.writeFileSync(html + '.tmp', figureHTML(fig, opts));
  fs.renameSync(html + '.tmp', html);
  let png: string | null = null;
  if (opts.png !== false) {
    png = basePath + '.png';
    renderPNG(fig, png, opts);
  }
  return { html, png };
}
