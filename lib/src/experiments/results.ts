/**
 * Writing results: each figure's data (`<id>.json`), plot (`<id>.html`, `.png`) and manifest entry, and the results
 * README (the paper vs here), regenerated from the manifest. A figure rebuilt from the same runs with the same result
 * is left as it is (no file is written), and the README only when its text changes: a read-only results folder whose
 * figures are all up to date is fine. Manifest and README updates hold the results folder's lock (manifest.ts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configHash, TrainConfig } from '../train/config';
import { workspaceRoot } from '../data/locate';
import { atomicWrite } from '../train/checkpoint';
import { writing } from '../atomic';
import { savePlot, figureHTML } from '../viz';
import { readFigureData } from './files';
import { ensureRuns } from './runner';
import { isFinished, loadRun, runDir, RunResult } from './runs';
import { noiseFloor, replicatesOf, runIndex } from './replicates';
import { FIGURES, FIGURE_IDS, resolveIds, type FigureRef } from './registry';
import { planRuns } from './plan';
import {
  entryStatus,
  backendsOfRuns,
  readManifest,
  settingsLabel,
  settingsOfRuns,
  withResultsLock,
  type Manifest,
  type ManifestEntry,
} from './manifest';
import { DEFAULT_PROTOCOL, DEFAULT_SEEDS, FigureSpec, FigureOutput, FigureContext } from './spec';

/**
 * The commit of the code that builds the figures: of the workspace this lib belongs to (wherever the results folder
 * is), with "+dirty" when lib/src has changes; a lib outside a git workspace gives its package version
 * ("ncl-lab@0.1.0"); 'unknown' only when neither can be read.
 */
export function gitCommit(cwd: string | null = workspaceRoot()): string {
  if (cwd === null) return packageVersion();
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
    return packageVersion();
  }
}

/** `ncl-lab@<version>` from this lib's package.json, or 'unknown'. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    return pkg.name === 'ncl-lab' && typeof pkg.version === 'string' ? `ncl-lab@${pkg.version}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface FigureWriteOptions {
  protocol: string;
  seeds: number[];
  resultsDir: string;
  png: boolean;
  commit: string;
  log?: (s: string) => void;
}

/**
 * Writes each of `specs` as soon as all the runs it needs (`needs[i]`) are finished: call `writeReady` at the start
 * and after every finished run. A figure that cannot be written is recorded in `failures` (the others go on).
 */
export function figureWriter(specs: FigureSpec[], needs: TrainConfig[][], o: FigureWriteOptions) {
  const entries: ManifestEntry[] = [];
  const failures: { id: string; reason: string }[] = [];
  const started = new Set<number>();
  const writeReady = async () => {
    for (const [i, spec] of specs.entries()) {
      if (started.has(i) || !needs[i].every((c) => isFinished(o.resultsDir, c))) continue;
      started.add(i);
      try {
        entries.push(await writeFigure(spec, o));
      } catch (e) {
        const reason = (e as Error).message.split('\n')[0];
        (o.log ?? ((s: string) => process.stderr.write(s + '\n')))(
          `[reproduce] ${spec.id}: not written: ${reason}`,
        );
        failures.push({ id: spec.id, reason });
      }
    }
  };
  return { entries, failures, writeReady };
}

/**
 * What a figure's context pools (replicates of each run, the noise floor), from the finished runs of `protocol`
 * under `resultsDir`; `use` is told of every replicate handed out (the runner lists them among the entry's runs).
 */
export function poolingContext(
  resultsDir: string,
  protocol: string,
  use: (r: RunResult) => void = () => {},
): Pick<FigureContext, 'replicates' | 'floor'> {
  const index = runIndex(resultsDir, protocol);
  return {
    floor: noiseFloor(index).floor,
    replicates: (c) =>
      replicatesOf(index, c)
        .filter((r) => path.resolve(resultsDir, r.dir) !== path.resolve(runDir(resultsDir, c)))
        .map((r) => {
          const dir = path.join(resultsDir, r.dir);
          const run: RunResult = { dir, config: r.config, metrics: r.metrics, analysis: null };
          use(run);
          return run;
        }),
  };
}

/** Build one figure from its finished runs and write its data, plot, manifest entry and the results README. */
export async function writeFigure(spec: FigureSpec, o: FigureWriteOptions): Promise<ManifestEntry> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const { seeds, commit } = o;
  const used = new Map<string, RunResult>();
  const out = spec.build({
    ...poolingContext(o.resultsDir, o.protocol, (r) => used.set(r.dir, r)),
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
  const pending = { protocol: o.protocol, seeds: seeds.length };

  // Rebuilt from the same runs with the same result: keep the files and the entry (its commit and date) as they are,
  // so that resuming a long `reproduce` does not rewrite every finished figure.
  const sameFile = (file: string, text: string) =>
    fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
  const previous = readManifest(o.resultsDir).figures.find(
    (f) => f.id === spec.id && f.protocol === o.protocol,
  );
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
    await updateResultsReadme(o.resultsDir, pending, log);
    return previous;
  }

  // The README is rebuilt from every entry's data file: one that is damaged is named before anything is written.
  for (const f of readManifest(o.resultsDir).figures)
    if (f.id !== spec.id || f.protocol !== o.protocol) readFigureData(path.join(o.resultsDir, f.data));
  // The figure's own files first (two writers of one figure write the same bytes, each file atomically), then its
  // entry, merged into the manifest as it is when the lock is ours.
  writing(dataFile, () => atomicWrite(dataFile, dataJson(commit)));
  const written = writing(`${base}.html`, () => savePlot(out.figure, base, plotOpts));
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
  await withResultsLock(
    o.resultsDir,
    () => {
      const manifest = readManifest(o.resultsDir);
      manifest.figures = [
        ...manifest.figures
          .filter((f) => !(f.id === spec.id && f.protocol === o.protocol))
          .map((f) => ({ ...f, settings: settingsOfRuns(o.resultsDir, f.runs) ?? f.settings })),
        entry,
      ].sort(
        (a, b) => FIGURE_IDS.indexOf(a.id) - FIGURE_IDS.indexOf(b.id) || a.protocol.localeCompare(b.protocol),
      );
      // The README's text first (it reads every entry's files): manifest.json and README.md are written together or
      // not at all.
      const readme = resultsReadme(o.resultsDir, manifest, pending);
      const file = path.join(o.resultsDir, 'manifest.json');
      writing(file, () => atomicWrite(file, JSON.stringify(manifest, null, 1) + '\n'));
      writeResultsReadme(o.resultsDir, manifest, pending, readme);
    },
    { log },
  );
  log(`[reproduce] ${spec.id}: ${out.verdict} — ${out.measured}`);
  return entry;
}

/** Rewrite the results README from the manifest as it is, under the lock, when its text would change. */
async function updateResultsReadme(
  resultsDir: string,
  pending: { protocol: string; seeds: number },
  log: (s: string) => void,
): Promise<void> {
  const file = path.join(resultsDir, 'README.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (resultsReadme(resultsDir, readManifest(resultsDir), pending) === current) return;
  await withResultsLock(resultsDir, () => writeResultsReadme(resultsDir, readManifest(resultsDir), pending), {
    log,
  });
}

/**
 * One figure for a notebook: its runs are loaded from `resultsDir` (and trained first when `train` is true and
 * some are missing), then the figure, its data and verdict are built. Nothing is written besides the runs.
 */
export async function buildFigure(
  figure: FigureRef,
  o: {
    protocol: string;
    seeds: number;
    resultsDir: string;
    train?: boolean;
    workers?: number;
    log?: (s: string) => void;
  },
): Promise<FigureOutput> {
  const [spec] = resolveIds([figure]);
  const id = spec.id;
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);
  const configs = spec.runs(o.protocol, seeds);
  if (o.train) await ensureRuns(o.resultsDir, configs, { workers: o.workers ?? 1, log: o.log ?? (() => {}) });
  return spec.build({
    ...poolingContext(o.resultsDir, o.protocol),
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
 * results/README.md, regenerated from the manifest (written only when its text changes; the caller holds the results
 * folder's lock): see `resultsReadme`.
 */
export function writeResultsReadme(
  resultsDir: string,
  m: Manifest,
  pending: { protocol: string; seeds: number } = { protocol: DEFAULT_PROTOCOL, seeds: DEFAULT_SEEDS },
  text = resultsReadme(resultsDir, m, pending),
): void {
  const file = path.join(resultsDir, 'README.md');
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  writing(file, () => atomicWrite(file, text));
}

/**
 * The text of results/README.md: a summary table (one row per figure and table), then per figure the paper's claim,
 * what was measured and the verdict in plain words, with its table; then the figures not built yet for
 * `pending.protocol` with how many of their runs (`pending.seeds` seeds) are finished.
 */
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
    'A claim is checked as comparisons between measured quantities. Runs of one seed share the long-tailed subset,',
    "the batch order and expert 1's initial weights, so each comparison is *paired*: the per-seed differences a − b",
    'give a mean and a two-sided 95 % interval (Student t, n − 1 degrees of freedom), printed as "+0.54 [+0.21, +0.87]"',
    "points. Where the runs are not paired (different subsets) the interval is Welch's, and the check says so. Each",
    'interval is widened to a noise floor: the spread of runs that train the same thing at the same seed (another code',
    'version, another key), which no seed explains' +
      floorText(resultsDir, m) +
      '. "a > b" *holds* when the interval',
    'lies above zero, is *reversed* when it lies below, and is *not settled* otherwise; replicate runs of one training',
    '(the offline-distillation teachers, Table 6 and Table 1) are pooled per seed. A figure is *reproduced* when every',
    'comparison holds, *not reproduced* when any is reversed, and *inconclusive* otherwise.',
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
            `- **Stale:** built from other runs than \`${f.protocol}\` trains for this figure today (its settings changed, or it gained a series); ${st.finished} of the ${st.needed} runs of today are finished (\`${cmd}\` rebuilds it).`,
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

/** ": N pairs of such runs under <protocol> give it F points (std of one difference)" for each protocol of `m`. */
function floorText(resultsDir: string, m: Manifest): string {
  const parts = [...new Set(m.figures.map((f) => f.protocol))].sort().flatMap((protocol) => {
    const { floor, pairs } = noiseFloor(runIndex(resultsDir, protocol));
    return pairs
      ? [
          `${pairs} such pair${pairs === 1 ? '' : 's'} under \`${protocol}\` give ${(100 * floor).toFixed(2)} points`,
        ]
      : [];
  });
  return parts.length ? ` (${parts.join('; ')}, the std of one difference)` : '';
}
