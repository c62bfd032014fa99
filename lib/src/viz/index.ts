/**
 * Plotly figures: one spec, shown two ways.
 *   - `show(fig)`: a tslab display (interactive HTML in Jupyter); outside a tslab kernel it is a no-op that
 *     returns false.
 *   - `savePlot(fig, basePath)`: writes `basePath.html` (interactive) and `basePath.png` (rendered by headless
 *     Chromium, Debian's `chromium`). PNG export fails with a clear message when no Chromium is found.
 * The figure spec is plain Plotly JSON: `{ data: [...traces], layout: {...}, config?: {...} }`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicCopy, atomicWrite } from '../atomic';
import { withTempDir } from '../temp';

export interface Figure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface SizeOptions {
  /** Pixels; default: `fig.layout.width`, else 900. */
  width?: number;
  /** Pixels; default: `fig.layout.height`, else 500. */
  height?: number;
}

/** The figure's size: explicit options win, then the layout's own width/height, then 900x500. */
function figureSize(fig: Figure, opts: SizeOptions): { width: number; height: number } {
  const num = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);
  return {
    width: opts.width ?? num(fig.layout?.width) ?? 900,
    height: opts.height ?? num(fig.layout?.height) ?? 500,
  };
}

/**
 * Path of the Plotly bundle (one self-contained browser script that sets `window.Plotly`): lib/dist/plotly.min.js,
 * the plotly.js-dist bundle minified by esbuild at `npm run build` (scripts/minify-plotly.js, about 4.9 MB), when it
 * is there, else plotly.js-dist's own (about 11 MB).
 */
export function plotlyBundlePath(): string {
  const min = path.resolve(__dirname, '..', '..', 'dist', 'plotly.min.js'); // from lib/dist/viz and lib/src/viz
  return fs.existsSync(min) ? min : require.resolve('plotly.js-dist');
}

let plotlySource: string | null = null;
/** The Plotly bundle's source (`plotlyBundlePath`), read once. */
export function plotlyBundle(): string {
  plotlySource ??= fs.readFileSync(plotlyBundlePath(), 'utf8');
  return plotlySource;
}

/** Where a notebook page finds the Plotly bundle that `npm run kernel` installs (relative to Jupyter's base URL). */
export const PLOTLY_NBEXTENSION = 'nbextensions/ncl-lab/plotly.min.js';

export interface FigureDivOptions extends SizeOptions {
  /** The div's id; default: a random one (a notebook page shows many figures). */
  id?: string;
  /**
   * When the page has no `window.Plotly`, load it once per page from this path, relative to the Jupyter server's
   * base URL (`PLOTLY_NBEXTENSION` for notebooks). Without it, the figure waits for a Plotly bundle inlined
   * elsewhere on the page.
   */
  plotlyFrom?: string;
  /**
   * The output just before this one is the figure's static image (a PNG twin for notebook viewers that run no
   * scripts): hide it once the interactive figure is drawn.
   */
  hidesStaticTwin?: boolean;
  /** `data-*` attributes of the figure's div (e.g. which results it shows). */
  attrs?: Record<string, string>;
}

/**
 * An HTML fragment that draws `fig` into a div once `window.Plotly` and the div are there. The div takes the figure's size only
 * when it is drawn, so where scripts do not run (GitHub, untrusted notebooks) it takes no room. Figures drawn before
 * Plotly is there wait in one queue per page (`window.__nclPlotly`); with `plotlyFrom`, the first of them adds one
 * `<script>` that loads the bundle, and when that fails each waiting figure says so in its div.
 */
export function figureDiv(fig: Figure, opts: FigureDivOptions = {}): { id: string; html: string } {
  const id = opts.id ?? `ncl-plot-${randomBytes(6).toString('hex')}`;
  const { width, height } = figureSize(fig, opts);
  const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const attrs = Object.entries(opts.attrs ?? {})
    .map(([k, v]) => ` data-${k}="${esc(v)}"`)
    .join('');
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  const spec = json({
    data: fig.data,
    layout: { ...fig.layout, width, height },
    config: { responsive: true, ...fig.config },
  });
  const loader = opts.plotlyFrom
    ? // The base URL: classic Notebook's <body data-base-url>, else JupyterLab / Notebook 7's page config, else '/'.
      `var base=document.body.getAttribute("data-base-url");` +
      `if(!base){try{base=JSON.parse(document.getElementById("jupyter-config-data").textContent).baseUrl}catch(e){}}` +
      `var url=(base||"/").replace(/\\/?$/,"/")+${json(opts.plotlyFrom)};` +
      `if(!g.loading){g.loading=1;var t=document.createElement("script");t.src=url;` +
      `t.onload=function(){var q=g.queue;g.queue=[];q.forEach(function(f){f()})};` +
      `t.onerror=function(){g.failed=url;var q=g.queue;g.queue=[];q.forEach(function(f){f()})};` +
      `document.head.appendChild(t)}`
    : '';
  const hide = opts.hidesStaticTwin
    ? `var a=el.closest(".output_area,.jp-OutputArea-child");var p=a&&a.previousElementSibling;` +
      `if(p&&p.querySelector("img"))p.style.display="none";`
    : '';
  const html =
    `<div id="${id}" class="ncl-plot"${attrs}></div>` +
    `<script>(function(){var s=${spec};var g=window.__nclPlotly=window.__nclPlotly||{queue:[]};` +
    // A notebook may run the script before it attaches the output to the page: look for the div a while.
    `var tries=0;var draw=function(){var el=document.getElementById("${id}");` +
    `if(!el){if(tries++<200)setTimeout(draw,50);return}` +
    `if(!window.Plotly){el.textContent="Plotly could not be loaded from "+g.failed+": run npm run kernel ` +
    `(it installs the bundle for Jupyter), restart Jupyter and reload the page.";return}` +
    `el.style.width="${width}px";el.style.height="${height}px";` +
    `window.Plotly.newPlot(el,s.data,s.layout,s.config);${hide}};` +
    `if(window.Plotly||g.failed){draw()}else{g.queue.push(draw);${loader}}})();</script>`;
  return { id, html };
}

/**
 * A standalone HTML page for `fig`; Plotly inline, or from `plotlySrc` (a URL or path relative to the page). The page
 * is a function of its arguments (one figure, so a fixed div id): the same figure gives the same bytes.
 */
export function figureHTML(
  fig: Figure,
  opts: SizeOptions & { plotlySrc?: string; title?: string } = {},
): string {
  const { html } = figureDiv(fig, { ...opts, id: 'ncl-plot' });
  const lib = opts.plotlySrc
    ? `<script src="${opts.plotlySrc}"></script>`
    : `<script>${plotlyBundle()}</script>`;
  const title = (opts.title ?? 'ncl-lab figure').replace(/</g, '&lt;');
  return (
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title>${lib}</head>` +
    `<body style="margin:0">${html}</body></html>`
  );
}

interface TslabDisplay {
  html(s: string): void;
  markdown(s: string): void;
  png(b: Uint8Array): void;
}

/**
 * The `display` of the tslab kernel this code runs in, or null outside one. A tslab kernel sets
 * `globalThis.__tslab__` (its executor's `{ exports, require }`) before running any cell, and its `require`
 * resolves 'tslab' to the kernel's own copy: the one whose display writes to the cell being executed, even if
 * another copy of tslab is installed beside this lib.
 */
export function tslabDisplay(): TslabDisplay | null {
  const hook = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__;
  if (typeof hook?.require !== 'function') return null;
  try {
    const display = (hook.require('tslab') as { display?: TslabDisplay }).display;
    return typeof display?.html === 'function' ? display : null;
  } catch {
    return null;
  }
}

export interface ShowOptions extends SizeOptions {
  /**
   * A static image shown before the interactive figure, for notebook viewers that run no scripts (GitHub,
   * nbviewer, an untrusted notebook); the interactive figure hides it once drawn. `true` renders the PNG here
   * (`renderPNG`, needs Chromium); default: `true` when `$NCL_NB_STATIC` is `png`, else none.
   */
  png?: boolean | Uint8Array;
  /** `data-*` attributes of the figure's div (see `figureDiv`). */
  attrs?: Record<string, string>;
  /** The div's id (default: random). */
  id?: string;
}

let plotlySentToKernel = false;
/**
 * Show `fig` in a tslab notebook as interactive HTML. Returns false (and does nothing) outside a tslab kernel.
 *
 * The page gets Plotly once: each figure's output loads the bundle from Jupyter (`PLOTLY_NBEXTENSION`, installed by
 * `npm run kernel`) when the page has none, so a figure drawn after the page was reloaded draws too. A kernel that
 * `npm run kernel` did not register (no `$NCL_PLOTLY_SERVED` in its environment) also sends the bundle inline with
 * its first figure, as a fallback for a Jupyter that serves no nbextensions.
 */
export function show(fig: Figure, opts: ShowOptions = {}): boolean {
  const display = tslabDisplay();
  if (!display) return false;
  let png: Uint8Array | null = null;
  if (opts.png instanceof Uint8Array) png = opts.png;
  else if (opts.png ?? process.env.NCL_NB_STATIC === 'png') png = pngBytes(fig, opts);
  const { html } = figureDiv(fig, {
    ...opts,
    plotlyFrom: PLOTLY_NBEXTENSION,
    hidesStaticTwin: png !== null,
  });
  let prelude = '';
  if (!plotlySentToKernel && !process.env.NCL_PLOTLY_SERVED) {
    prelude =
      `<script>if(!window.Plotly){${plotlyBundle()}\n}` +
      `var g=window.__nclPlotly;if(g){var q=g.queue;g.queue=[];q.forEach(function(f){f()})}</script>`;
    plotlySentToKernel = true;
  }
  if (png) display.png(png);
  display.html(prelude + html);
  return true;
}

/** `fig` as PNG bytes (`renderPNG` into a temporary folder). */
export function pngBytes(fig: Figure, opts: SizeOptions & { scale?: number } = {}): Buffer {
  return withTempDir('png', (tmp) => {
    const file = path.join(tmp, 'figure.png');
    renderPNG(fig, file, opts);
    return fs.readFileSync(file);
  });
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/**
 * Find a Chromium to render PNGs. `$CHROMIUM`, when set, is the only candidate (a path, or a name looked up on
 * PATH); otherwise the usual names on PATH. Null when there is none.
 */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM;
  const candidates = env ? [env] : CHROMIUM_NAMES;
  for (const c of candidates) {
    if (c.includes('/')) {
      if (isExecutable(c)) return path.resolve(c);
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (dir && isExecutable(path.join(dir, c))) return path.join(dir, c);
    }
  }
  return null;
}

function noChromiumMessage(target: string): string {
  const env = process.env.CHROMIUM;
  return env
    ? `cannot write ${target}: CHROMIUM=${env} is not an executable Chromium (fix or unset CHROMIUM)`
    : `cannot write ${target}: no Chromium found for PNG export (looked for ${CHROMIUM_NAMES.join(', ')} on ` +
        `PATH); install Debian's chromium (apt-get install chromium) or set CHROMIUM=/path/to/chromium`;
}

/** Render `fig` to a PNG of width x height pixels (times `scale`) with headless Chromium. */
export function renderPNG(fig: Figure, pngPath: string, opts: SizeOptions & { scale?: number } = {}): void {
  const chromium = findChromium();
  if (!chromium) throw new Error(noChromiumMessage(pngPath));
  const { width, height } = figureSize(fig, opts);
  // The page, Chromium's profile and the screenshot (several MB): removed however this ends (../temp.ts).
  withTempDir('plot', (tmp) => {
    const page = path.join(tmp, 'figure.html');
    fs.writeFileSync(
      page,
      figureHTML(
        { ...fig, config: { ...fig.config, staticPlot: true, responsive: false } },
        { width, height },
      ),
    );
    const out = path.join(tmp, 'figure.png');
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--user-data-dir=${path.join(tmp, 'profile')}`,
      `--window-size=${width},${height}`,
      `--force-device-scale-factor=${opts.scale ?? 1}`,
      '--virtual-time-budget=10000',
      `--screenshot=${out}`,
      `file://${page}`,
    ];
    try {
      execFileSync(chromium, args, { stdio: 'pipe', timeout: 120_000 });
    } catch (e) {
      const err = e as Error & { stderr?: Buffer };
      const tail = (err.stderr?.toString() ?? '').trim().split('\n').slice(-5).join('\n');
      throw new Error(`cannot write ${pngPath}: ${chromium} failed: ${err.message.split('\n')[0]}\n${tail}`);
    }
    if (!fs.existsSync(out)) throw new Error(`cannot write ${pngPath}: ${chromium} wrote no screenshot`);
    atomicCopy(out, pngPath);
  });
}

/**
 * Write `basePath.html` and (unless `png: false`) `basePath.png`, each atomically (../atomic.ts). The HTML inlines
 * Plotly (about 4.9 MB), or, with `plotlySrc` (a path relative to the HTML file, e.g. 'plotly.js'), loads it from
 * there: the bundle is copied to that place (atomically) when it is missing or differs from this lib's (e.g. a copy
 * cut short), so many figures in one folder share one copy.
 */
export function savePlot(
  fig: Figure,
  basePath: string,
  opts: SizeOptions & { plotlySrc?: string; title?: string; png?: boolean; scale?: number } = {},
): { html: string; png: string | null } {
  const html = basePath + '.html';
  const dir = path.dirname(path.resolve(html));
  fs.mkdirSync(dir, { recursive: true });
  if (opts.plotlySrc && !/^[a-z]+:|^\//i.test(opts.plotlySrc)) {
    const lib = path.join(dir, opts.plotlySrc);
    const bundle = Buffer.from(plotlyBundle(), 'utf8');
    const there = fs.statSync(lib, { throwIfNoEntry: false });
    if (there?.size !== bundle.length || !fs.readFileSync(lib).equals(bundle)) atomicWrite(lib, bundle);
  }
  atomicWrite(html, figureHTML(fig, opts));
  let png: string | null = null;
  if (opts.png !== false) {
    png = basePath + '.png';
    renderPNG(fig, png, opts);
  }
  return { html, png };
}

export {
  classSizesFigure,
  splitSizes,
  imageFigure,
  lossTermsFigure,
  perClassAccuracyFigure,
  movingAverage,
} from './plots';
export type { StepTerms } from './plots';
export { meanStdBarsFigure, meanStdLinesFigure, classProfilesFigure } from './stat-plots';
export type { MeanStdSeries } from './stat-plots';
