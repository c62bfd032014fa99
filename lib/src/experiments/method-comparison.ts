/**
 * A method against baselines, as a figure like any other: `comparisonSpec(method, { against })` is a FigureSpec
 * (one run per method and seed, the top-1 of expert 1 by default, the claim "method > each baseline" judged by the
 * rule every figure uses), and `compare` is the job around it, behind `ncl compare`, `npm start` and notebooks:
 *
 *   1. says what it reuses (finished runs of the results folder first, then of runs/) and what it trains, with an
 *      estimate of the time;
 *   2. trains what is missing into `<root>/runs/` with an executor, as `ncl reproduce` does: here in worker
 *      processes (`ensureRuns`), or as a SLURM job array followed by a job that runs the same comparison once every
 *      run has finished (`executor: 'slurm'`);
 *   3. prints the table (each method's mean ± std, the verdict against each baseline) and writes the figure (PNG +
 *      HTML) and its data (JSON); in a notebook it shows both.
 *
 * A method registered in the calling process only (defined in a notebook, no file) is trained in that process, and
 * cannot go to SLURM (the nodes load methods from their files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { registerMethod, resolveMethod, type Method, type MethodSpec } from '../losses';
import { recordedFile } from '../losses/method-file';
import type { TrainConfig } from '../train/config';
import { atomicWrite } from '../train/checkpoint';
import { workspaceRoot } from '../data/locate';
import { findChromium, savePlot, show, tslabDisplay } from '../viz';
import { greater, judge, POINTS } from './claims';
import { comparisonFigure } from './compare';
import { isFinished, loadRun, runDir, type RunResult } from './runs';
import { executorNamed, type ExecutorName } from './executor';
import type { FollowProgress, SlurmOptionsInput, Submission } from './slurm';
import type { ProgressInfo } from '../train/progress';
import { poolingContext } from './results';
import { figureReadiness, planConfigs } from './plan';
import {
  accuracy,
  runsOf,
  runStat,
  DEFAULT_PROTOCOL,
  DEFAULT_SEEDS,
  ENSEMBLE,
  EXPERT1,
  PREDICTOR_LABEL,
  type FigureContext,
  type FigureOutput,
  type FigureSpec,
  type Metric,
  type Split,
} from './spec';
import { meanStd, type Stat, type Verdict } from './stats';

export interface ComparisonOptions {
  /** The methods it is compared with (registered names). */
  against: string[];
  /** What is compared; default the top-1 of expert 1 (`EXPERT1`). */
  metric?: Metric;
  /** The figure's id (the name of its files); default `compare-<method>`. */
  id?: string;
  title?: string;
}

/** Names in tables: the methods' labels, or their names where two labels are the same. */
function rowNames(methods: Method[]): string[] {
  const labels = methods.map((m) => m.label);
  return methods.map((m, i) =>
    labels.indexOf(m.label) === i && labels.lastIndexOf(m.label) === i ? m.label : m.name,
  );
}

/** The words of a verdict on "method > baseline". */
const VERDICT_WORDS: Record<Verdict, string> = {
  reproduced: 'higher',
  'not reproduced': 'lower',
  inconclusive: 'not settled',
};

/**
 * `method` against each of `o.against` as a FigureSpec: the runs of every method (its protocol defaults), bars of
 * the metric and the ensemble per method, the claim "method > baseline" for each baseline, and a table of mean ±
 * std (metric, ensemble, many / medium / few of expert 1) with the verdict against each baseline.
 */
export function comparisonSpec(method: string, o: ComparisonOptions): FigureSpec {
  const methods = [...o.against, method].map((name) => resolveMethod(name));
  if (new Set(methods.map((m) => m.name)).size < methods.length)
    throw new Error(`compare: ${method} is compared with itself (against: ${o.against.join(', ')})`);
  const names = rowNames(methods);
  const subject = names[names.length - 1];
  const baselines = names.slice(0, -1);
  const metric = o.metric ?? EXPERT1;
  const metricName = `${PREDICTOR_LABEL[metric.predictor]}${metric.split && metric.split !== 'top1' ? `, ${metric.split}` : ''}`;
  const points = methods.map((m, i) => ({ x: names[i], label: names[i], run: { method: m.name } }));
  const series = [
    { name: metricName, metric, points },
    ...(metric.predictor === 'ensemble' ? [] : [{ name: 'ensemble', metric: ENSEMBLE, points }]),
  ];
  const cell = (label: string) => `${metricName}, ${label}`;
  const title = o.title ?? `${subject} vs ${baselines.join(', ')}`;
  const figure = comparisonFigure({
    id: o.id ?? `compare-${methods[methods.length - 1].name}`,
    title,
    plot: { kind: 'bars', title: `${title}: top-1 (%)` },
    series,
    claim: {
      text: `${subject} is more accurate than ${baselines.join(' and ')} (${metricName}).`,
      checks: baselines.map((b) => greater(cell(subject), cell(b))),
    },
    measuredSeries: [metricName],
    table: (m, ctx) =>
      comparisonTable(ctx, { names, methods, metric, metricName, subject, baselines, stats: m.stats }),
  });
  return figure;
}

/** The table of a comparison: one row per method, then the verdict of "method > baseline" for each baseline. */
function comparisonTable(
  ctx: FigureContext,
  o: {
    names: string[];
    methods: Method[];
    metric: Metric;
    metricName: string;
    subject: string;
    baselines: string[];
    stats: Record<string, Stat>;
  },
): string {
  const splits: Split[] = ['many', 'medium', 'few'];
  const fmt = (s: Stat) => (Number.isFinite(s.mean) ? meanStd(s) : '-');
  const rows = o.methods.map((m, i) => {
    const runs: RunResult[] = runsOf(ctx, { method: m.name });
    const c = runs[0].config;
    const at = (metric: Metric) => runStat(runs, (r) => accuracy(r, metric));
    return [
      o.names[i],
      String(c.model.numExperts),
      String(c.loss.numCopies),
      fmt(o.stats[`${o.metricName}, ${o.names[i]}`]),
      fmt(at(ENSEMBLE)),
      ...splits.map((split) => fmt(at({ ...EXPERT1, split }))),
    ];
  });
  const head = ['method', 'K', 'T', `${o.metricName} (%)`, 'ensemble (%)', ...splits.map((s) => `${s} (%)`)];
  const widths = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (r: string[]) => `| ${r.map((x, j) => x.padEnd(widths[j])).join(' | ')} |`;
  const verdicts = o.baselines.map((b) => {
    const pair = {
      [o.subject]: o.stats[`${o.metricName}, ${o.subject}`],
      [b]: o.stats[`${o.metricName}, ${b}`],
    };
    const j = judge([greater(o.subject, b)], pair, POINTS, { floor: ctx.floor });
    return `- ${o.subject} vs ${b}: **${VERDICT_WORDS[j.verdict]}** (${j.reading.replace(/\.$/, '')})`;
  });
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...verdicts,
    '',
    `${ctx.protocol}, mean ± std over seeds ${ctx.seeds.join(', ')}; many / medium / few: expert 1 (- where the ` +
      'training set has no such class).',
  ].join('\n');
}

export interface CompareOptions extends Omit<ComparisonOptions, 'against'> {
  /** Baselines: registered names or method files. */
  against: string[];
  /** Default `DEFAULT_PROTOCOL` ('mini'). */
  protocol?: string;
  /** Seeds 0 … n − 1; default `DEFAULT_SEEDS`. */
  seeds?: number;
  /** Parallel training processes; default 2 (1 when a method has no file to load in a worker). */
  workers?: number;
  /** The workspace: runs are trained into `<root>/runs/`; default the workspace of this lib, else the cwd. */
  root?: string;
  /** Where finished runs are reused from first (`<resultsDir>/runs/...`); default `<root>/results`. */
  resultsDir?: string;
  /** Train even where a finished run exists (into `<root>/runs/`, replacing it there). */
  retrain?: boolean;
  /** Only say what would be trained, and stop. */
  plan?: boolean;
  /** Base path of the files (`.png`, `.html`, `.json`); default `<root>/runs/<id>-<protocol>`; null: none. */
  out?: string | null;
  /** Render the PNG (needs Chromium); default: when a Chromium is found. */
  png?: boolean;
  backend?: string;
  /** Where progress goes (default stderr). */
  log?: (line: string) => void;
  /** Per-run progress of the workers (e.g. progress bars). */
  onProgress?: (c: TrainConfig, p: ProgressInfo) => void;
  /**
   * Where the missing runs train: 'local' (default: `workers` processes here) or 'slurm' (a job array into
   * `<root>/runs/`, then a job that runs this comparison as `ncl compare` once every run has finished).
   */
  executor?: ExecutorName;
  /** slurm: the cluster's settings (slurm.ts, SlurmOptions). */
  slurm?: SlurmOptionsInput;
  /** slurm: follow the jobs until the comparison job has ended (else resolve to null once submitted). */
  wait?: boolean;
  /** slurm: the jobs, once submitted. */
  onSubmitted?: (s: Submission) => void;
  /** slurm, wait: progress of the sweep. */
  onSweepProgress?: (p: FollowProgress) => void;
  /** Stops the runs (local: at a checkpoint) or the waiting (slurm: the jobs go on). */
  signal?: AbortSignal;
}

export interface ComparisonResult extends FigureOutput {
  spec: FigureSpec;
  protocol: string;
  seeds: number[];
  /** The files written (null where not written). */
  files: { html: string | null; png: string | null; json: string | null };
}

/** A path as the user would type it: relative when under the working directory. */
const rel = (f: string) => {
  const r = path.relative(process.cwd(), f);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : f;
};

/**
 * Compare `method` (a registered name, a method file, NAME for methods/NAME.ts, or a spec from `defineMethod`,
 * registered here) with each of `o.against` over `o.seeds` seeds: reuse the finished runs, train the missing ones,
 * then print the table and write (and, in a notebook, show) the figure. Resolves to the figure's output and the
 * files written; to null with `plan` (after the plan), and on SLURM without `wait` once the jobs are submitted (the
 * job that follows them writes the figure).
 */
export async function compare(
  method: string | MethodSpec | Method,
  o: CompareOptions,
): Promise<ComparisonResult | null> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const subject =
    typeof method === 'string' ? resolveMethod(method) : 'source' in method ? method : registerMethod(method);
  const against = o.against.map((b) => resolveMethod(b).name);
  const spec = comparisonSpec(subject.name, { ...o, against });
  const protocol = o.protocol ?? DEFAULT_PROTOCOL;
  const seeds = Array.from({ length: o.seeds ?? DEFAULT_SEEDS }, (_, i) => i);
  const root = path.resolve(o.root ?? workspaceRoot() ?? process.cwd());
  const resultsDir = path.resolve(o.resultsDir ?? path.join(root, 'results'));
  const configs = spec.runs(protocol, seeds);
  // Where each run is finished: the results folder first, then runs/ (nowhere with `retrain`).
  const where = (c: TrainConfig) =>
    o.retrain ? null : ([resultsDir, root].find((r) => isFinished(r, c)) ?? null);
  log(`[ncl-lab] ${spec.title}: protocol ${protocol}, seeds ${seeds.join(', ')}`);
  for (const line of planLines(configs, where, { resultsDir, root, workers: o.workers ?? 2 })) log(line);
  if (o.plan) return null;

  const todo = configs.filter((c) => !where(c));
  if (todo.length) {
    const methods = [subject, ...o.against.map((b) => resolveMethod(b))];
    const inProcessOnly = methods.filter((m) => m.source?.file === null).map((m) => m.name);
    const inProcess = inProcessOnly.length > 0;
    const onCluster = o.executor === 'slurm';
    if (onCluster && inProcess)
      throw new Error(
        `${inProcessOnly.join(', ')}: defined in this process only, so SLURM's nodes cannot load it: ` +
          'put it in a method file (methods/<name>.ts) or train with the local executor',
      );
    const followUp = onCluster
      ? compareArgs(spec, methods, { ...o, protocol, seedList: seeds, root, resultsDir })
      : [];
    if (o.retrain) for (const c of todo) fs.rmSync(runDir(root, c), { recursive: true, force: true });
    if (inProcess && (o.workers ?? 2) > 1)
      log(
        `  ${subject.name} has no file to load in a worker process: its runs train here, one after another`,
      );
    const executor = executorNamed(o.executor, { ...o, workers: inProcess ? 1 : (o.workers ?? 2) });
    const outcome = await executor.run({
      resultsDir: root,
      configs: todo,
      label: {
        command: `ncl ${onCluster ? followUp.join(' ') : `compare ${subject.name}`}`,
        groups: [{ id: spec.id, runs: [...new Set(todo.map((c) => path.relative(root, runDir(root, c))))] }],
      },
      ...(onCluster ? { followUp: { name: 'compare', args: followUp } } : {}),
      log,
      signal: o.signal,
    });
    if (!outcome.done) return null; // submitted: the comparison job writes the figure
  }
  const get = (c: TrainConfig): RunResult => {
    const r = [resultsDir, root].map((d) => loadRun(d, c)).find(Boolean);
    if (!r) throw new Error(`${spec.id}: run ${runDir(root, c)} is not finished`);
    return r;
  };
  // The noise floor of the results folder's runs, as every figure of results/ is judged with.
  const { floor } = poolingContext(resultsDir, protocol);
  const out = spec.build({ protocol, seeds, resultsDir, get, floor });
  const files = writeComparison(spec, out, { ...o, protocol, seeds, root, configs, get });
  report(out, files, log);
  return { ...out, spec, protocol, seeds, files };
}

/**
 * The `ncl compare` arguments of this very comparison (the job that follows a SLURM sweep): methods by name, or by
 * their file's absolute path; every setting explicit, so the job writes the same figure to the same files.
 */
function compareArgs(
  spec: FigureSpec,
  methods: Method[],
  o: CompareOptions & { protocol: string; seedList: number[]; root: string; resultsDir: string },
): string[] {
  const ref = (m: Method) => (m.source?.file ? recordedFile(m.source.file) : m.name);
  const metric = o.metric ?? EXPERT1;
  if (metric.split && metric.split !== 'top1')
    throw new Error(`compare on SLURM: the metric's split '${metric.split}' has no \`ncl compare\` flag`);
  const out = o.out ?? path.join(o.root, 'runs', `${spec.id}-${o.protocol}`);
  return [
    'compare',
    ref(methods[0]),
    ...['--against', methods.slice(1).map(ref).join(',')],
    ...['--protocol', o.protocol, '--seeds', String(o.seedList.length), '--metric', metric.predictor],
    ...['--root', o.root, '--results', o.resultsDir, '--out', path.resolve(out), '--workers', '1'],
    ...(o.id ? ['--id', o.id] : []),
    ...(o.title ? ['--title', o.title] : []),
    ...(o.png === false ? ['--no-png'] : []),
  ];
}

/**
 * The plan as lines: what is reused (and from where), what trains into runs/, and the estimated time (the planner of
 * every sweep, experiments/plan.ts: estimates from the finished runs of the same model size, runs on the first free
 * worker).
 */
function planLines(
  configs: TrainConfig[],
  where: (c: TrainConfig) => string | null,
  o: { resultsDir: string; root: string; workers: number },
): string[] {
  const rows = planConfigs([{ id: 'compare', configs }], o.root, {
    cachedIn: [],
    estimateFrom: o.resultsDir,
  });
  const lines: string[] = [];
  rows.forEach((r, i) => {
    const c = configs[i];
    const tag = `${c.method} seed ${c.seed}`.padEnd(16);
    const found = where(c);
    const m = r.cpuMinutes;
    lines.push(
      found
        ? `  ${tag} reusing the finished run ${rel(runDir(found, c))} (same config)`
        : `  ${tag} trains into ${rel(runDir(o.root, c))}: ` +
            (m == null
              ? 'no finished run of this model size to estimate from'
              : `~${m.toFixed(0)} CPU-minutes`),
    );
  });
  const todo = rows.filter((_, i) => !where(configs[i]));
  const known = todo.filter((r) => r.cpuMinutes != null);
  if (!todo.length) lines.push('  nothing to train: every run is finished');
  else if (!known.length)
    lines.push(`  ${todo.length} run(s) to train: no estimate yet (no finished run of this model size)`);
  else {
    const [ready] = figureReadiness(todo, o.workers);
    lines.push(
      `  ${todo.length} run(s) to train: ~${known.reduce((a, r) => a + r.cpuMinutes!, 0).toFixed(0)} CPU-minutes, ` +
        `~${ready.minutes.toFixed(0)} minutes with ${o.workers} worker(s)` +
        (known.length < todo.length ? ` (for the ${known.length} with an estimate)` : '') +
        ' (estimated from the finished runs of the same model size)',
    );
  }
  return lines;
}

/** Write the figure (HTML, and PNG when wanted and possible) and its data (JSON), atomically. */
function writeComparison(
  spec: FigureSpec,
  out: FigureOutput,
  o: Omit<CompareOptions, 'root' | 'seeds'> & {
    protocol: string;
    seeds: number[];
    root: string;
    configs: TrainConfig[];
    get: (c: TrainConfig) => RunResult;
  },
): ComparisonResult['files'] {
  if (o.out === null) return { html: null, png: null, json: null };
  const base = path.resolve(o.out ?? path.join(o.root, 'runs', `${spec.id}-${o.protocol}`));
  const png = o.png ?? findChromium() !== null;
  const json = `${base}.json`;
  fs.mkdirSync(path.dirname(json), { recursive: true });
  const runs = [...new Set(o.configs.map((c) => o.get(c).dir))].map((d) =>
    path.relative(path.dirname(base), d),
  );
  atomicWrite(
    json,
    JSON.stringify(
      {
        id: spec.id,
        title: spec.title,
        protocol: o.protocol,
        seeds: o.seeds,
        claim: out.claim,
        measured: out.measured,
        verdict: out.verdict,
        reading: out.reading,
        runs,
        data: out.data,
        table: out.table ?? null,
      },
      null,
      1,
    ) + '\n',
  );
  const written = savePlot(out.figure, base, { title: spec.title, png, width: 900, height: 520 });
  return { html: written.html, png: written.png, json };
}

/** The table and the verdict (printed, or shown in a notebook), then where the files are. */
function report(out: FigureOutput, files: ComparisonResult['files'], log: (s: string) => void): void {
  const display = tslabDisplay();
  if (display) {
    show(out.figure, { width: 900, height: 520 });
    if (out.table) display.markdown(out.table);
  } else if (out.table) console.log(`\n${out.table}\n`);
  console.log(`claim: ${out.claim} Verdict: ${out.verdict}.`);
  if (files.html)
    log(
      `figure: ${rel(files.html)}${files.png ? `, ${rel(files.png)}` : ' (no PNG: no Chromium found)'}; data: ${rel(files.json!)}`,
    );
}
