// A figure notebook in a real browser (`npm run test:browser`): Jupyter Notebook serves a copy of notebook 11 on
// 127.0.0.1 with the kernel that `npm run kernel` registers (into a private Jupyter folder); headless Chromium, driven
// by playwright-core, opens it, runs it through the page's own Cell > Run All, reloads the page (the kernel lives on)
// and runs it again. Both times every figure cell must draw a Plotly plot and no cell may error. Screenshots of both
// runs (one per figure cell) go to $NCL_BROWSER_OUT (default .scratch/ci/browser).
//
// Needs: apt-get install jupyter-notebook chromium (or CHROMIUM=/path), npm ci. The notebook runs under
// NCL_PROTOCOL=smoke: its runs are trained into .scratch/results-smoke when `npm run notebooks` has not done so yet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, Browser, Page } from 'playwright-core';
import { findChromium } from '../../lib/src/viz';

const root = path.resolve(__dirname, '..', '..');
const NOTEBOOK = '11_per_class_and_kl.ipynb';
const work = path.join(root, '.scratch', 'browser-test');
const shots = path.resolve(process.env.NCL_BROWSER_OUT ?? path.join(root, '.scratch', 'ci', 'browser'));
const RUN_TIMEOUT_MS = Number(process.env.NCL_BROWSER_TIMEOUT ?? 900) * 1000;

let server: ChildProcess | null = null;
let serverLog = '';
let browser: Browser | null = null;
let base = '';
const token = randomBytes(16).toString('hex');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end)
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}\n${serverLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  fs.rmSync(work, { recursive: true, force: true });
  const nbDir = path.join(work, 'notebooks'); // inside the checkout: the notebook resolves 'ncl-lab' from here
  fs.mkdirSync(nbDir, { recursive: true });
  fs.copyFileSync(path.join(root, 'notebooks', NOTEBOOK), path.join(nbDir, NOTEBOOK));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_DATA_DIR: path.join(work, 'jupyter', 'data'),
    JUPYTER_CONFIG_DIR: path.join(work, 'jupyter', 'config'),
    JUPYTER_RUNTIME_DIR: path.join(work, 'jupyter', 'runtime'),
    JUPYTER_PATH: '',
    NCL_PROTOCOL: 'smoke',
    NCL_NB_STATIC: 'png', // each figure also as a PNG, which the drawn figure must hide
  };
  // What a user runs: `npm run kernel`, into this private data folder.
  execFileSync('bash', [path.join(root, 'scripts', 'kernel.sh')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    'jupyter',
    [
      'notebook',
      '--no-browser',
      '--allow-root',
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--port-retries=0',
      `--NotebookApp.token=${token}`,
      `--notebook-dir=${nbDir}`,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.on(
    'error',
    (e) => (serverLog += `\ncannot start jupyter: ${e.message} (apt-get install jupyter-notebook)`),
  );
  await waitFor(
    'Jupyter Notebook to answer',
    async () => (await fetch(`${base}/api/status?token=${token}`)).ok,
    60_000,
  );

  const executablePath = findChromium();
  assert.ok(executablePath, 'no Chromium: apt-get install chromium, or set CHROMIUM=/path/to/chromium');
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    // Shuts down the kernels too; then the server exits.
    await fetch(`${base}/api/shutdown?token=${token}`, { method: 'POST' }).catch(() => {});
    const exited = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 15_000);
      server!.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    if (!exited) server.kill('SIGKILL');
  }
});

interface CellState {
  index: number;
  figureCell: boolean;
  plots: number;
  /** PNG outputs still visible (the static twin of a drawn figure must be hidden). */
  images: number;
  errors: string[];
  notes: string[];
}

/** Open the notebook page, wait for its kernel, and return the kernel's id. */
async function openNotebook(page: Page, reload: boolean): Promise<string> {
  if (reload) await page.reload({ waitUntil: 'load' });
  else await page.goto(`${base}/notebooks/${NOTEBOOK}?token=${token}`, { waitUntil: 'load' });
  return waitFor(
    'the notebook page and its kernel',
    () =>
      page.evaluate(() => {
        const J = (window as unknown as { Jupyter?: any }).Jupyter; // eslint-disable-line @typescript-eslint/no-explicit-any
        const k = J?.notebook?.kernel;
        if (!k || !k.is_connected() || !J.notebook._fully_loaded) return null;
        J.notebook.set_autosave_interval(0); // nothing is saved: a reload shows the notebook without outputs
        return k.id as string;
      }),
    120_000,
  );
}

/** Cell > Run All from the page's menu, then wait until every code cell ran and every figure had time to draw. */
async function runAll(page: Page): Promise<CellState[]> {
  await page.click('#celllink');
  await page.click('#run_all_cells');
  await waitFor(
    'every code cell to run',
    () =>
      page.evaluate(() => {
        const J = (window as unknown as { Jupyter: any }).Jupyter; // eslint-disable-line @typescript-eslint/no-explicit-any
        const cells = J.notebook.get_cells().filter((c: { cell_type: string }) => c.cell_type === 'code');
        return cells.every(
          (c: { input_prompt_number?: unknown }) => typeof c.input_prompt_number === 'number',
        );
      }),
    RUN_TIMEOUT_MS,
  );
  const read = () =>
    page.evaluate(() => {
      const J = (window as unknown as { Jupyter: any }).Jupyter; // eslint-disable-line @typescript-eslint/no-explicit-any
      return J.notebook
        .get_cells()
        .map(
          (c: { cell_type: string; get_text(): string; element: ArrayLike<HTMLElement> }, index: number) => ({
            c,
            index,
          }),
        )
        .filter(({ c }: { c: { cell_type: string } }) => c.cell_type === 'code')
        .map(
          ({ c, index }: { c: { get_text(): string; element: ArrayLike<HTMLElement> }; index: number }) => {
            const el = c.element[0];
            return {
              index,
              figureCell: /showFigure\(/.test(c.get_text()) && !/import/.test(c.get_text()),
              plots: el.querySelectorAll('.output_area .js-plotly-plot .main-svg').length,
              images: Array.from(el.querySelectorAll('.output_png img')).filter(
                (i) => (i as HTMLElement).offsetParent !== null,
              ).length,
              errors: Array.from(el.querySelectorAll('.output_error, .output_stderr')).map(
                (e) => e.textContent ?? '',
              ),
              notes: Array.from(el.querySelectorAll('.ncl-plot'))
                .map((e) => e.textContent ?? '')
                .filter((t) => t.includes('could not be loaded')),
            };
          },
        );
    }) as Promise<CellState[]>;
  // Plotly draws asynchronously once its bundle is loaded: give the figures a little time.
  await waitFor(
    'the figures to draw',
    async () => (await read()).every((c) => !c.figureCell || c.plots > 0),
    30_000,
  ).catch(() => null);
  return read();
}

/** One screenshot per figure cell (input and outputs), `<name>-cell<index>.png`. */
async function screenshot(page: Page, name: string, cells: CellState[]): Promise<void> {
  const all = page.locator('#notebook-container > .cell');
  for (const c of cells.filter((x) => x.figureCell))
    await all.nth(c.index).screenshot({ path: path.join(shots, `${name}-cell${c.index}.png`) });
}

function check(cells: CellState[], when: string): void {
  const figures = cells.filter((c) => c.figureCell);
  assert.ok(figures.length >= 3, `${when}: ${figures.length} figure cells found in ${NOTEBOOK}`);
  for (const c of cells) {
    assert.deepEqual(c.errors, [], `${when}: cell ${c.index} wrote an error`);
    assert.deepEqual(c.notes, [], `${when}: cell ${c.index}: Plotly not loaded`);
    if (!c.figureCell) continue;
    assert.ok(c.plots > 0, `${when}: figure cell ${c.index} drew no plot`);
    assert.equal(c.images, 0, `${when}: figure cell ${c.index} still shows its static PNG`);
  }
}

test(`${NOTEBOOK}: every figure draws, and draws again after the page is reloaded`, async () => {
  fs.mkdirSync(shots, { recursive: true });
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('dialog', (d) => void d.accept()); // "leave the page?" on reload: yes
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  const kernel = await openNotebook(page, false);
  const first = await runAll(page);
  await screenshot(page, 'run-1', first);
  check(first, 'first run');

  const kernelAfter = await openNotebook(page, true);
  assert.equal(kernelAfter, kernel, 'the reloaded page talks to the same kernel');
  const fresh = await page.evaluate(() => ({
    plotly: typeof (window as unknown as { Plotly?: unknown }).Plotly,
    plots: document.querySelectorAll('.js-plotly-plot').length,
  }));
  assert.deepEqual(fresh, { plotly: 'undefined', plots: 0 }, 'a fresh page: no Plotly, no figure yet');
  const second = await runAll(page);
  await screenshot(page, 'run-2-after-reload', second);
  check(second, 'after the reload');
  assert.deepEqual(pageErrors, [], 'errors in the page');
  console.log(`screenshots: ${path.relative(root, shots)}/run-1-cell*.png, run-2-after-reload-cell*.png`);
});
