/**
 * `ncl reproduce <id ...|all>`: train exactly the runs the requested figures need (cached by config hash, resumed
 * when interrupted, in parallel workers), then write each figure: `<results>/<id>.png` and `.html` (Plotly),
 * `<results>/<id>.json` (the numbers plotted, per seed and mean ± std), an entry in `<results>/manifest.json`, and
 * the paper-vs-here table in `<results>/README.md`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configHash, TrainConfig } from '../train/config';
import { atomicWrite, checkpointState } from '../train/checkpoint';
import { savePlot, findChromium, figureHTML } from '../viz';
import {
  cpuMinutesEstimator,
  ensureRuns,
  isFinished,
  loadRun,
  relativeCost,
  runDir,
  RunResult,
} from './runs';
import { ANALYSIS_FIGURES } from './figures';
import { readFigureData, readManifest as readManifestFile } from './files';
import { SWEEP_FIGURES } from './sweeps';
import { TWIN } from './twin';
import { DEFAULT_PROTOCOL, DEFAULT_SEEDS, FigureSpec, FigureOutput } from './spec';

/** Every figure and table, in the paper's order, then the PyTorch twin. */
export const FIGURES: FigureSpec[] = [...ANALYSIS_FIGURES, ...SWEEP_FIGURES, TWIN];
export const FIGURE_IDS = FIGURES.map((f) => f.id);

export interface ManifestEntry {
  id: string;
  title: string;
  png: string | null;
  html: string;
  data: string;
  protocol: string;
  /** What the figure's runs trained: `settingsLabel` of their configs (`settingsOfRuns`). */
  settings: string;
  seeds: number[];
  commit: string;
  runs: string[];
  claim: string;
  measured: string;
  verdict: string;
  /** The verdict in plain words (absent in entries written before it was recorded). */
  reading?: string;
  generated: string;
}

export interface Manifest {
  description: string;
  figures: ManifestEntry[];
}

export interface ReproduceOptions {
  ids: string[];
  protocol: string;
  seeds: number;
  workers: number;
  /** Results folder (default `results/` of the workspace). */
  resultsDir: string;
  /** Skip PNG rendering (e.g. no Chromium). */
  png?: boolean;
  backend?: string;
  log?: (s: string) => void;
}

function gitCommit(cwd: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib/src'], {
      cwd,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * One line naming what a set of runs trained, each setting once with every value the runs use (joined by ' + '):
 * dataset and imbalance factors (and the share of the data, when not all of it), model and width, epochs, batch,
 * weight decay, augmentation, experts K, and copies T of the runs with IntraCL.
 * E.g. "fashion-mnist IF 100 + 50, resnet8 w16, 20 ep, batch 64, wd 2e-4, simaug, K 2, T 2".
 */
export function settingsLabel(configs: TrainConfig[]): string {
  if (!configs.length) return 'no runs';
  const values = <T>(f: (c: TrainConfig) => T, order?: (a: T, b: T) => number) => {
    const v = [...new Set(configs.map(f))];
    return (order ? v.sort(order) : v).join(' + ');
  };
  const down = (a: number, b: number) => b - a;
  const up = (a: number, b: number) => a - b;
  const shares = [...new Set(configs.map((c) => c.data.fraction))];
  const share = (f: number) => `${+(100 * f).toPrecision(3)}%`;
  const withIntraCL = configs.filter((c) => c.loss.options.intraCL && c.method === 'nclpp');
  return [
    `${values((c) => c.data.dataset)} IF ${values((c) => c.data.imbalanceFactor, down)}` +
      (shares.length > 1 || shares[0] !== 1 ? ` (data ${shares.sort(down).map(share).join(' + ')})` : ''),
    values((c) => `${c.model.name} w${c.model.width}`),
    `${values((c) => c.optim.epochs, up)} ep`,
    `batch ${values((c) => c.data.batchSize, up)}`,
    `wd ${values((c) => (c.optim.weightDecay === 0 ? '0' : c.optim.weightDecay.toExponential()))}`,
    values((c) => (c.data.mixup > 0 ? `${c.data.augment}+mixup` : c.data.augment)),
    `K ${values((c) => c.model.numExperts, up)}`,
    ...(withIntraCL.length
      ? [`T ${[...new Set(withIntraCL.map((c) => c.loss.numCopies))].sort(up).join(' + ')}`]
      : []),
  ].join(', ');
}

/** What a figure's runs train under `protocol` (a figure without runs: what it describes), as `settingsLabel`. */
export function figureSettings(id: string, protocol: string, seeds = DEFAULT_SEEDS): string {
  const [spec] = resolveIds([id]);
  const seedList = Array.from({ length: seeds }, (_, i) => i);
  return settingsLabel(spec.describes?.(protocol) ?? spec.runs(protocol, seedList));
}

/**
 * Which tfjs backends trained the runs an entry lists, from each run's metrics.json: the backend of every epoch (the
 * "(name)" that ends `train.epochs[].host`; runs that predate it: `metrics.backend`), in order, a run resumed on
 * another backend as "webgpu → wasm". E.g. "wasm" when all ran there, else "webgpu (3 runs), webgpu → wasm (6 runs)".
 * Null when a run's metrics.json is missing or unreadable.
 */
export function backendsOfRuns(resultsDir: string, runs: string[]): string | null {
  if (!runs.length) return null;
  const counts = new Map<string, number>();
  try {
    for (const r of runs) {
      const m = JSON.parse(fs.readFileSync(path.join(resultsDir, r, 'metrics.json'), 'utf8')) as {
        backend: string;
        train: { epochs: { host?: string }[] };
      };
      const seq = m.train.epochs.map((e) => /\(([^()]+)\)$/.exec(e.host ?? '')?.[1] ?? m.backend);
      const label = seq.filter((b, i) => i === 0 || b !== seq[i - 1]).join(' → ') || m.backend;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
  } catch {
    return null;
  }
  if (counts.size === 1) return [...counts.keys()][0];
  return [...counts].map(([b, n]) => `${b} (${n} run${n === 1 ? '' : 's'})`).join(', ');
}

/**
 * `settingsLabel` of the runs an entry lists, read from each run's config.json as it was written (also runs of an
 * earlier schema); null when one is missing or unreadable.
 */
export function settingsOfRuns(resultsDir: string, runs: string[]): string | null {
  if (!runs.length) return null;
  try {
    const configs = runs.map(
      (r) => JSON.parse(fs.readFileSync(path.join(resultsDir, r, 'config.json'), 'utf8')) as TrainConfig,
    );
    return settingsLabel(configs);
  } catch {
    return null;
  }
}

/**
 * Whether an entry was built from the runs its figure trains under its protocol today. It is `stale` when the protocol
 * or the figure changed since (other runs, other keys); `finished` of the `needed` runs of today are then ready.
 */
export function entryStatus(
  resultsDir: string,
  f: ManifestEntry,
): { stale: false } | { stale: true; finished: number; needed: number } {
  let configs: TrainConfig[];
  try {
    configs = resolveIds([f.id])[0].runs(f.protocol, f.seeds);
  } catch {
    return { stale: true, finished: 0, needed: 0 };
  }
  const dirs = configs.map((c) => path.relative(resultsDir, runDir(resultsDir, c)));
  // The entry lists the runs its build read: all of today's, or fewer where some only feed others (the teachers of
  // a distillation figure).
  const today = new Set(dirs);
  if (f.runs.every((r) => today.has(r))) return { stale: false };
  return {
    stale: true,
    finished: configs.filter((c) => isFinished(resultsDir, c)).length,
    needed: configs.length,
  };
}

/** The manifest of a results folder, schema-checked (./files.ts); an empty one when there is none yet. */
export function readManifest(resultsDir: string): Manifest {
  return readManifestFile(resultsDir) as Manifest;
}

export interface PlanRow {
  id: string;
  method: string;
  seed: number;
  dir: string;
  cached: boolean;
  /** relativeCost of the run's config. */
  cost: number;
  /**
   * Estimated training CPU-minutes still to spend (null without a finished run of the same model size to calibrate
   * on): the whole run's, less the share of epochs its checkpoint already holds.
   */
  cpuMinutes: number | null;
  /** Epochs in the run's checkpoint when it is not finished (a resumed run starts after them). */
  epochsDone?: number;
  /** Every requested figure that needs this run (`id` is the first). */
  neededBy: string[];
  /** The run's config. */
  config: TrainConfig;
}

/**
 * What `reproduce` would train, without training: every run the figures need (each once, under the first figure
 * that needs it), whether it is cached, and an estimate of its CPU time from the finished runs under `resultsDir`
 * (`cpuMinutesEstimator`), less the share of epochs its checkpoint holds.
 */
export function planRuns(o: {
  ids: string[];
  protocol: string;
  seeds: number;
  resultsDir: string;
}): PlanRow[] {
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  const seen = new Map<string, { neededBy: string[] }>();
  const rows: { id: string; c: TrainConfig; cached: boolean; neededBy: string[] }[] = [];
  for (const spec of resolveIds(o.ids)) {
    for (const c of spec.runs(o.protocol, seeds)) {
      const h = configHash(c);
      const known = seen.get(h);
      if (known) {
        if (!known.neededBy.includes(spec.id)) known.neededBy.push(spec.id);
        continue;
      }
      const row = { id: spec.id, c, cached: isFinished(o.resultsDir, c), neededBy: [spec.id] };
      seen.set(h, row);
      rows.push(row);
    }
  }
  const estimate = cpuMinutesEstimator(o.resultsDir, o.protocol);
  return rows.map(({ id, c, cached, neededBy }) => {
    const minutes = estimate(c);
    const cost = relativeCost(c);
    const done = cached ? 0 : epochsInCheckpoint(runDir(o.resultsDir, c), c);
    return {
      ...(done ? { epochsDone: done } : {}),
      id,
      method: c.method,
      seed: c.seed,
      dir: path.relative(o.resultsDir, runDir(o.resultsDir, c)),
      cached,
      cost,
      cpuMinutes: minutes == null ? null : minutes * (1 - done / c.optim.epochs),
      neededBy,
      config: c,
    };
  });
}

/** Epochs held by the checkpoint of an unfinished run of `c` in `dir` (0 without one, or one of another config). */
function epochsInCheckpoint(dir: string, c: TrainConfig): number {
  const file = path.join(dir, 'checkpoint.bin');
  if (!fs.existsSync(file)) return 0;
  try {
    const s = checkpointState<{ configHash: string; nextEpoch: number }>(file);
    return s.configHash === configHash(c) ? Math.min(s.nextEpoch, c.optim.epochs) : 0;
  } catch {
    return 0; // unreadable: the run will start over (the trainer says why)
  }
}

/**
 * When each figure would be ready, in wall-clock minutes from the start, if the runs to train were scheduled as
 * `ensureRuns` does for `reproduce`: figure by figure in the order of `ids` (as resolved; default: the order of the
 * rows' first figures), costliest first within a figure,
 * each run on the first free lane of `workers`. A figure is ready when the last run it needs is finished (0 when
 * none is left to train). Runs without a CPU-time estimate count as 0 and make `estimated` false for the figures
 * that wait on them. Distillation students are scheduled like any run (in `ensureRuns` they also wait for their
 * teachers).
 */
export function figureReadiness(
  rows: PlanRow[],
  workers: number,
  ids: string[] = [...new Set(rows.map((r) => r.id))],
): { id: string; toTrain: number; minutes: number; estimated: boolean }[] {
  const rank = (r: PlanRow) => ids.indexOf(r.id);
  const queue = rows.filter((r) => !r.cached).sort((a, b) => rank(a) - rank(b) || b.cost - a.cost); // stable
  const lanes = new Array<number>(Math.max(1, workers)).fill(0);
  const finish = new Map<PlanRow, number>();
  for (const r of queue) {
    const k = lanes.indexOf(Math.min(...lanes));
    lanes[k] += r.cpuMinutes ?? 0;
    finish.set(r, lanes[k]);
  }
  return ids.map((id) => {
    const mine = queue.filter((r) => r.neededBy.includes(id));
    return {
      id,
      toTrain: mine.length,
      minutes: Math.max(0, ...mine.map((r) => finish.get(r)!)),
      estimated: mine.every((r) => r.cpuMinutes != null),
    };
  });
}

/** The plan as text: one line per run to train, the totals, then when each of `ids` would be ready. */
export function formatPlan(rows: PlanRow[], workers: number, ids?: string[]): string {
  const todo = rows.filter((r) => !r.cached);
  const est = todo.map((r) => r.cpuMinutes);
  const known = est.filter((x): x is number => x != null);
  const total = known.reduce((a, b) => a + b, 0);
  const fmt = (m: number | null) => (m == null ? '?' : `${m.toFixed(0)} min`);
  return [
    ...todo.map(
      (r) =>
        `${r.id.padEnd(7)} ${r.dir}  seed ${r.seed}  ~${fmt(r.cpuMinutes)}` +
        (r.epochsDone ? `  (resumes after epoch ${r.epochsDone})` : ''),
    ),
    `${rows.length} runs needed, ${rows.length - todo.length} cached, ${todo.length} to train: ` +
      `~${(total / 60).toFixed(1)} CPU-hours` +
      (known.length < todo.length ? ` for the ${known.length} with an estimate` : '') +
      `, ~${(total / 60 / Math.max(1, workers)).toFixed(1)} h of wall time with ${workers} worker(s)` +
      ' (estimates: training time of the finished runs of the same model size, per unit of relativeCost)',
    `each figure is written when its last run finishes; ready after (wall time, ${workers} worker(s), this order):`,
    ...figureReadiness(rows, workers, ids).map((f) =>
      f.toTrain
        ? `  ${f.id.padEnd(7)} ${`${f.toTrain} run(s) to train`.padEnd(22)} ~${(f.minutes / 60).toFixed(1)} h` +
          (f.estimated ? '' : ' (some runs without an estimate)')
        : `  ${f.id.padEnd(7)} all runs cached`,
    ),
  ].join('\n');
}

/**
 * Resolve ids in the order given, each once ('all' = every figure, in the paper's order); unknown ids are an error
 * naming them. The order is the order `reproduce` trains and builds them in.
 */
export function resolveIds(ids: string[]): FigureSpec[] {
  if (ids.includes('all')) return FIGURES;
  const unknown = ids.filter((id) => !FIGURE_IDS.includes(id));
  if (unknown.length)
    throw new Error(`unknown figure id(s) ${unknown.join(', ')}; known: ${FIGURE_IDS.join(', ')}, all`);
  return [...new Set(ids)].map((id) => FIGURES.find((f) => f.id === id)!);
}

/**
 * Train what the figures `o.ids` need and write each figure as soon as its last run is finished (figures whose runs
 * are all cached are written before any training). Runs are queued figure by figure in the order of `o.ids`, so a
 * long `reproduce all` leaves finished figures behind it; an interruption loses only the runs in progress, which
 * resume from their checkpoints.
 */
export async function reproduce(o: ReproduceOptions): Promise<ManifestEntry[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const specs = resolveIds(o.ids);
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  const wantPng = o.png ?? true;
  if (wantPng && !findChromium())
    throw new Error('no Chromium found for PNG export (apt-get install chromium), or pass --no-png');
  const needs = specs.map((s) => s.runs(o.protocol, seeds));
  // A run's rank is the first figure that needs it.
  const firstFigure = new Map<string, number>();
  needs.forEach((cs, i) =>
    cs.forEach((c) => firstFigure.has(configHash(c)) || firstFigure.set(configHash(c), i)),
  );

  const root = path.resolve(o.resultsDir, '..');
  const commit = gitCommit(root);
  fs.mkdirSync(o.resultsDir, { recursive: true });
  const entries: ManifestEntry[] = [];
  const written = new Set<number>();
  const writeReady = () => {
    specs.forEach((spec, i) => {
      if (written.has(i) || !needs[i].every((c) => isFinished(o.resultsDir, c))) return;
      written.add(i);
      entries.push(writeFigure(spec, { ...o, seeds, png: wantPng, commit }));
    });
  };
  writeReady();
  await ensureRuns(o.resultsDir, needs.flat(), {
    workers: o.workers,
    log,
    backend: o.backend,
    rank: (c) => firstFigure.get(configHash(c)) ?? 0,
    onFinished: writeReady,
  });
  return entries;
}

/** Build one figure from its finished runs and write its data, plot, manifest entry and the results README. */
function writeFigure(
  spec: FigureSpec,
  o: {
    protocol: string;
    seeds: number[];
    resultsDir: string;
    png: boolean;
    commit: string;
    log?: (s: string) => void;
  },
): ManifestEntry {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const { seeds, commit } = o;
  const used = new Map<string, RunResult>();
  const out = spec.build({
    protocol: o.protocol,
    seeds,
    resultsDir: o.resultsDir,
    get: (c) => {
      const r = loadRun(o.resultsDir, c);
      if (!r) throw new Error(`${spec.id}: run ${configHash(c)} is missing`);
      used.set(r.dir, r);
      return r;
    },
  });
  const base = path.join(o.resultsDir, spec.id);
  const dataFile = `${base}.json`;
  const dataJson = (at: string) =>
    JSON.stringify(
      {
        id: spec.id,
        title: spec.title,
        protocol: o.protocol,
        seeds,
        commit: at,
        data: out.data,
        table: out.table ?? null,
      },
      null,
      1,
    ) + '\n';
  const plotOpts = { plotlySrc: 'plotly.js', title: spec.title, png: o.png, width: 1000, height: 560 };
  const rel = (p: string | null) => (p ? path.relative(o.resultsDir, p) : null);
  const runs = [...used.keys()].map((d) => path.relative(o.resultsDir, d)).sort();
  const settings = settingsLabel(spec.describes?.(o.protocol) ?? spec.runs(o.protocol, seeds));

  // Rebuilt from the same runs with the same result: keep the files and the entry (its commit and date) as they are,
  // so that resuming a long `reproduce` does not rewrite every finished figure.
  const manifest = readManifest(o.resultsDir);
  // The README is rebuilt from every entry's data file: one that is damaged is named before anything is written.
  for (const f of manifest.figures)
    if (f.id !== spec.id || f.protocol !== o.protocol) readFigureData(path.join(o.resultsDir, f.data));
  const previous = manifest.figures.find((f) => f.id === spec.id && f.protocol === o.protocol);
  const sameFile = (file: string, text: string) =>
    fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
  if (
    previous &&
    JSON.stringify([previous.title, previous.settings, previous.seeds, previous.runs]) ===
      JSON.stringify([spec.title, settings, seeds, runs]) &&
    [previous.claim, previous.measured, previous.verdict, previous.reading].join('\n') ===
      [out.claim, out.measured, out.verdict, out.reading].join('\n') &&
    sameFile(dataFile, dataJson(previous.commit)) &&
    sameFile(`${base}.html`, figureHTML(out.figure, plotOpts)) &&
    (!o.png || (previous.png !== null && fs.existsSync(path.join(o.resultsDir, previous.png))))
  ) {
    log(`[reproduce] ${spec.id}: unchanged since ${previous.commit}, kept — ${out.verdict}`);
    // The README's account of the other entries (stale ones, runs finished) may have moved on.
    writeResultsReadme(o.resultsDir, manifest, { protocol: o.protocol, seeds: seeds.length });
    return previous;
  }

  atomicWrite(dataFile, dataJson(commit));
  const written = savePlot(out.figure, base, plotOpts);
  const entry: ManifestEntry = {
    id: spec.id,
    title: spec.title,
    png: rel(written.png),
    html: rel(written.html)!,
    data: rel(dataFile)!,
    protocol: o.protocol,
    settings,
    seeds,
    commit,
    runs,
    claim: out.claim,
    measured: out.measured,
    verdict: out.verdict,
    reading: out.reading,
    generated: new Date().toISOString(),
  };
  manifest.figures = [
    ...manifest.figures
      .filter((f) => !(f.id === spec.id && f.protocol === o.protocol))
      .map((f) => ({ ...f, settings: settingsOfRuns(o.resultsDir, f.runs) ?? f.settings })),
    entry,
  ].sort(
    (a, b) => FIGURE_IDS.indexOf(a.id) - FIGURE_IDS.indexOf(b.id) || a.protocol.localeCompare(b.protocol),
  );
  // The README first (it reads every entry's files), so that manifest.json and README.md are written together or not.
  const readme = resultsReadme(o.resultsDir, manifest, { protocol: o.protocol, seeds: seeds.length });
  atomicWrite(path.join(o.resultsDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  atomicWrite(path.join(o.resultsDir, 'README.md'), readme);
  log(`[reproduce] ${spec.id}: ${out.verdict} — ${out.measured}`);
  return entry;
}

/**
 * One figure for a notebook: its runs are loaded from `resultsDir` (and trained first when `train` is true and
 * some are missing), then the figure, its data and verdict are built. Nothing is written besides the runs.
 */
export async function buildFigure(
  id: string,
  o: {
    protocol: string;
    seeds: number;
    resultsDir: string;
    train?: boolean;
    workers?: number;
    log?: (s: string) => void;
  },
): Promise<FigureOutput> {
  const [spec] = resolveIds([id]);
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  const configs = spec.runs(o.protocol, seeds);
  if (o.train) await ensureRuns(o.resultsDir, configs, { workers: o.workers ?? 1, log: o.log ?? (() => {}) });
  return spec.build({
    protocol: o.protocol,
    seeds,
    resultsDir: o.resultsDir,
    get: (c) => {
      const r = loadRun(o.resultsDir, c);
      if (!r) {
        throw new Error(
          `${id}: no finished run ${configHash(c)} under ${o.resultsDir}; run \`ncl reproduce ${id} --protocol ${o.protocol} --seeds ${o.seeds}\` or pass train: true`,
        );
      }
      return r;
    },
  });
}

/**
 * results/README.md, regenerated from the manifest: a summary table (one row per figure and table), then per figure
 * the paper's claim, what was measured and the verdict in plain words, with its table; then the figures not built
 * yet for `pending.protocol` with how many of their runs (`pending.seeds` seeds) are finished.
 */
export function writeResultsReadme(
  resultsDir: string,
  m: Manifest,
  pending: { protocol: string; seeds: number } = { protocol: DEFAULT_PROTOCOL, seeds: DEFAULT_SEEDS },
): void {
  atomicWrite(path.join(resultsDir, 'README.md'), resultsReadme(resultsDir, m, pending));
}

/** The text of results/README.md (`writeResultsReadme`). */
export function resultsReadme(
  resultsDir: string,
  m: Manifest,
  pending: { protocol: string; seeds: number } = { protocol: DEFAULT_PROTOCOL, seeds: DEFAULT_SEEDS },
): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const heading = (f: ManifestEntry) => (f.protocol === DEFAULT_PROTOCOL ? f.id : `${f.id} (${f.protocol})`);
  const anchor = (f: ManifestEntry) => heading(f).replace(/[()]/g, '').replace(/ /g, '-');
  const links = (f: ManifestEntry) => `${f.png ? `[png](${f.png}) ` : ''}[html](${f.html}) [json](${f.data})`;
  const status = new Map(m.figures.map((f) => [f, entryStatus(resultsDir, f)]));
  const trainedOn = (f: ManifestEntry) => {
    const b = backendsOfRuns(resultsDir, f.runs);
    return b ? ` trained on ${b}` : '';
  };
  const lines = [
    '# Results: the paper vs here',
    '',
    'Generated by `ncl reproduce` from the runs listed in `manifest.json` (protocol, settings, seeds, commit and run',
    "folders of every entry); every measured number below comes from those runs, and the paper's from",
    "`lib/src/experiments/paper.ts`. Our runs use the CPU-sized protocol named in each entry, not the paper's GPU",
    'protocol: trends, not absolute numbers, are what can be compared.',
    '',
    'A claim is checked as comparisons between measured quantities. "a > b" *holds* when a\'s mean is higher by more',
    "than the seeds' spread (the larger std), is *reversed* when b's is higher by more than that, and is *not settled*",
    'otherwise. A figure is *reproduced* when every comparison holds, *not reproduced* when any is reversed, and',
    '*inconclusive* otherwise.',
    '',
    ...([...status.values()].some((st) => st.stale)
      ? [
          'An entry marked *stale* was built from runs that its figure no longer trains under its protocol (the protocol',
          'or the figure changed since): its numbers are those of the settings it names, and it is replaced when the runs',
          'of today are finished.',
          '',
        ]
      : []),
    '| id | title | protocol (settings of its runs) | seeds | verdict | files |',
    '|---|---|---|---|---|---|',
    ...m.figures.map(
      (f) =>
        `| [${f.id}](#${anchor(f)}) | ${esc(f.title)} | ${f.protocol} (${f.settings}) | ${f.seeds.length} | **${f.verdict}**${status.get(f)!.stale ? ' (stale)' : ''} | ${links(f)} |`,
    ),
    '',
  ];
  const sections = m.figures.map((f) => {
    const d = readFigureData(path.join(resultsDir, f.data));
    const st = status.get(f)!;
    const cmd = `ncl reproduce ${f.id} --protocol ${f.protocol} --seeds ${f.seeds.length}`;
    return [
      `## ${heading(f)}`,
      '',
      `${f.title}. *${f.protocol}: ${f.settings}; seeds ${f.seeds.join(', ')}; ${f.runs.length} runs${trainedOn(f)}; built at commit ${f.commit}.* ${links(f)}`,
      '',
      ...(st.stale
        ? [
            `- **Stale:** built from runs that \`${f.protocol}\` no longer trains for this figure; ${st.finished} of the ${st.needed} runs of today are finished (\`${cmd}\` rebuilds it).`,
          ]
        : []),
      `- **Claim:** ${f.claim}`,
      `- **Measured:** ${f.measured}`,
      `- **Verdict: ${f.verdict}.** ${f.reading ?? ''}`.trimEnd(),
      '',
      ...(d.table ? [d.table, ''] : []),
    ].join('\n');
  });
  const missing = FIGURES.filter(
    (f) => !m.figures.some((e) => e.id === f.id && e.protocol === pending.protocol),
  );
  const todo = missing.length
    ? [
        `## Not built yet (${pending.protocol}, ${pending.seeds} seed${pending.seeds === 1 ? '' : 's'})`,
        '',
        'Each is built by its command once all its runs are finished; finished runs are cached and never retrained.',
        '',
        '| id | title | runs finished | command |',
        '|---|---|---|---|',
        ...missing.map((f) => {
          const plan = planRuns({ ids: [f.id], ...pending, resultsDir });
          const done = plan.filter((r) => r.cached).length;
          const cmd = `ncl reproduce ${f.id} --protocol ${pending.protocol} --seeds ${pending.seeds}`;
          return `| ${f.id} | ${esc(f.title)} | ${done} of ${plan.length} | \`${cmd}\` |`;
        }),
        '',
      ]
    : [];
  return [...lines, ...sections, ...todo].join('\n');
}
