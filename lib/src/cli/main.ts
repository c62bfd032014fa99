/**
 * `ncl`: the command line of ncl-lab (commander).
 *
 *   ncl train --protocol mini --method nclpp [--seed 0] [--out DIR] [--resume | --restart] [--set key=value ...]
 *   ncl eval  --run DIR
 *   ncl bench --model resnet32 --classes 100 --batch 128 [--json]
 *   ncl reproduce fig8 table1 ... | all [--protocol mini] [--seeds 3] [--workers 2] [--executor local|slurm]
 *   ncl status [fig8 ...] [--results DIR]
 *   ncl compare ./methods/focal.ts --against bsce,nclpp [--protocol mini] [--seeds 3] [--executor local|slurm]
 *   ncl data fetch|info|subset|check-subset ...
 *   ncl start            (the main job: mini protocol, NCL++ against CE and BSCE over 3 seeds, with verdicts;
 *                         --executor slurm as for reproduce)
 *
 * Errors are one line on stderr and a non-zero exit; nothing is written for an invalid configuration.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { initBackend, backendInfo, BACKENDS } from '../backend';
import { cores, defaultThreads, threadsPerWorker } from 'ncl-kernels';
import { ZodError } from 'zod';
import { formatConfigError } from '../train/config';
import { methodNames } from '../losses';
import { PROTOCOL_NAMES, getProtocol } from '../train/protocols';
import {
  readMetrics,
  trainRun,
  Metrics,
  RunFinished,
  TrainingError,
  TrainingStopped,
} from '../train/trainer';
import { checkRunFolder, sameConfig } from '../train/resume';
import {
  configFromFlags,
  folderOption,
  intOption,
  methodOption,
  minutesOption,
  protocolOption,
  SHORTCUTS,
  UsageError,
} from './options';
import { evalRun, openEvalRun } from './eval';
import {
  FIGURE_IDS,
  formatPlan,
  planRuns,
  reproduce,
  resolveIds,
  type FigureRef,
} from '../experiments/reproduce';
import { loadFigureFile } from '../experiments/figure-file';
import { looksLikePath } from '../losses/method-file';
import { SweepStopped } from '../experiments/runner';
import type { FollowProgress, Submission } from '../experiments/slurm';
import { DEFAULT_PROTOCOL, DEFAULT_SEEDS } from '../experiments/spec';
import { makeFolder } from '../train/folders';
import { addExecutorOptions, executorFromFlags } from './executor';
import { workspaceRoot } from '../data/locate';
import { dataCommand } from '../data/cli';

function backendOption(): Option {
  return new Option(
    '--backend <name>',
    'force a tfjs backend (default: the fastest available; env NCL_BACKEND)',
  ).choices([...BACKENDS]);
}

function threadsOption(
  what = 'threads for the wasm kernels (default: env NCL_THREADS, else every core)',
): Option {
  return new Option('--threads <n>', what);
}

/**
 * --threads as a number, or undefined when not given (initBackend then uses NCL_THREADS or every core). A bad
 * NCL_THREADS is refused here, as a usage error naming it, before anything starts.
 */
function threadsFlag(v: unknown): number | undefined {
  if (v !== undefined) return intOption(String(v), 'threads');
  const env = process.env.NCL_THREADS;
  if (env !== undefined && env !== '' && !/^[1-9]\d{0,5}$/.test(env))
    throw new UsageError(`NCL_THREADS: expected a positive integer, got '${env}'`);
  return undefined;
}

/**
 * Kernel threads for each of `workers` training processes: --threads, else NCL_THREADS, else the cores divided
 * among the workers. Set as NCL_THREADS, which the worker processes inherit, and said on stderr.
 */
function threadsForWorkers(flag: unknown, workers: number, what: string): number {
  const threads =
    threadsFlag(flag) ?? (process.env.NCL_THREADS ? defaultThreads() : threadsPerWorker(workers));
  process.env.NCL_THREADS = String(threads);
  console.error(`[${what}] ${workers} worker(s) × ${threads} kernel thread(s) each, on ${cores()} cores`);
  return threads;
}

function defaultOut(protocol: string, method: string, seed: number | string): string {
  return path.join('runs', protocol, `${method}-seed${seed}`);
}

/**
 * SIGINT and SIGTERM as an AbortSignal (its reason: the signal's name), for a command to stop at a checkpoint; a
 * second SIGINT exits at once.
 */
function stopOnSignals(what: string): AbortSignal {
  const controller = new AbortController();
  const on = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (sig === 'SIGINT') process.exit(130);
      return;
    }
    console.error(`ncl: ${sig}: ${what} (SIGINT again: stop at once)`);
    controller.abort(sig);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return controller.signal;
}

/** The exit status of a process stopped by `signal`: 128 + its number. */
function signalStatus(signal: string): number {
  return 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 15);
}

/** Train one run, or return its metrics when `out` already holds a finished run of the same config (--resume). */
async function trainCommand(flags: Record<string, unknown>): Promise<Metrics> {
  if (flags.resume && flags.restart) throw new UsageError('--resume, --restart: give one or the other');
  if (flags.out !== undefined) folderOption(flags.out, 'out');
  if (flags.results !== undefined) folderOption(flags.results, 'results');
  const config = configFromFlags(flags as never);
  const deadline = flags.timeLimit == null ? undefined : Date.now() + 60_000 * minutesOption(flags.timeLimit);
  const out = (flags.out as string | undefined) ?? defaultOut(config.protocol, config.method, config.seed);
  const done = flags.resume ? readMetrics(out) : null;
  if (done && sameConfig(done.configHash, config, done.config)) {
    console.error(`${out}: already finished (config ${done.configHash}); nothing to train`);
    return done;
  }
  const folder = { resume: Boolean(flags.resume), restart: Boolean(flags.restart) };
  checkRunFolder(out, config, folder); // refusals before loading anything (trainRun checks again, under the lock)
  const threads = threadsFlag(flags.threads);
  await initBackend({ backend: flags.backend as never, quiet: backendInfo() != null, threads }); // once per process
  const signal = stopOnSignals('stopping after this step; the last checkpoint is kept');
  const trained = await trainRun(config, {
    outDir: out,
    ...folder,
    resultsRoot: flags.results as string | undefined,
    deadline,
    signal,
  }).catch((e: unknown) => {
    // Finished by another process between the check above and the lock: its metrics, nothing trained again.
    if (e instanceof RunFinished) return null;
    // Stopped by a signal: exit as the signal would have (a time limit is a normal end: 0).
    if (e instanceof TrainingStopped && e.by === 'signal')
      process.exitCode = signalStatus(String(signal.reason));
    throw e;
  });
  if (!trained) {
    console.error(`${out}: already finished (by another process); nothing to train`);
    return readMetrics(out)!;
  }
  const { metrics, model } = trained;
  model.dispose();
  const t = metrics.test;
  const pct = (x: number | null) => (x == null ? '-' : (100 * x).toFixed(2));
  console.log(
    `${config.method} ${config.protocol} seed ${config.seed}: top1 ${pct(t.top1)}% (many ${pct(t.many)}, medium ${pct(t.medium)}, few ${pct(t.few)})` +
      (t.experts.length > 1 ? `; experts ${t.experts.map((e) => pct(e.top1)).join(' / ')}` : '') +
      ` → ${out}`,
  );
  return metrics;
}

export function buildProgram(): Command {
  const program = new Command('ncl')
    .description('ncl-lab: NCL++ for long-tailed recognition, on tfjs')
    .showHelpAfterError(false)
    .configureOutput({ outputError: (s, write) => write(s.split('\n')[0] + '\n') });

  const train = program
    .command('train')
    .description('train one run and write config.json, metrics.json, per_class.csv and checkpoints to --out')
    .option('--protocol <name>', `protocol: ${PROTOCOL_NAMES.join(', ')}`)
    .option(
      '--method <name|file>',
      `method: ${methodNames().join(', ')}; a method file (./methods/focal.ts); or NAME for methods/NAME.ts`,
    )
    .option(
      '--config <file>',
      'a full config JSON (as written to config.json) instead of --protocol/--method',
    )
    .option('--seed <n>', 'seed of weights, subset, batches and augmentations (default 0)')
    .option('--out <dir>', 'output folder (default runs/<protocol>/<method>-seed<seed>)')
    .option('--resume', 'continue from the last checkpoint in --out (a finished run is kept as is)')
    .option('--restart', 'start over: remove the checkpoint and results already in --out')
    .option(
      '--results <dir>',
      'results root that loss.teachers folders are relative to (default: workspace results/)',
    )
    .option('--set <key=value...>', 'override any config entry by its dotted path, e.g. --set optim.epochs=3')
    .option(
      '--time-limit <minutes>',
      'stop at the last epoch boundary expected within this many minutes (checkpoint kept; exit 0); continue with --resume',
    )
    .addOption(backendOption())
    .addOption(threadsOption());
  for (const [flag, p] of Object.entries(SHORTCUTS)) {
    if (flag === 'dataset') train.option(`--${flag} <name>`, `dataset (sets ${p})`);
    else train.option(`--${flag} <value>`, `sets ${p}`);
  }
  train.action(async (opts) => {
    try {
      await trainCommand(opts);
    } catch (e) {
      if (!(e instanceof TrainingStopped)) throw e;
      console.error(`ncl: ${e.message}`);
    }
  });

  program
    .command('eval')
    .description('re-evaluate a trained run from its checkpoint and print its metrics')
    .requiredOption('--run <dir>', 'run folder (with config.json and checkpoint.bin)')
    .option('--json', 'print the metrics as JSON')
    .addOption(backendOption())
    .action(async (opts) => {
      const run = openEvalRun(folderOption(opts.run, 'run')); // checks config and checkpoint before starting a backend
      await initBackend({ backend: opts.backend, quiet: Boolean(opts.json) });
      await evalRun(run, Boolean(opts.json));
    });

  program
    .command('bench')
    .description('time full training steps (forward, loss, backward, SGD) and print img/s, ms/step, GFLOP/s')
    .option('--model <name>', "resnet8/20/32/44/56, or 'mini' (the mini protocol's model)", 'resnet32')
    .option('--classes <n>', 'number of classes', '100')
    .option('--batch <n>', 'batch size', '128')
    .option('--width <n>', 'base width (16 in the paper)')
    .option('--steps <n>', 'timed steps', '5')
    .option('--warmup <n>', 'untimed warm-up steps', '2')
    .option('--experts <n>', 'experts', '1')
    .addOption(
      new Option('--method <name>', 'the loss: softmax cross-entropy, or NCL++ with --copies T').choices([
        'ce',
        'nclpp',
      ]),
    )
    .option('--copies <n>', 'T augmented copies per image (NCL++: every step forwards batch × T rows)', '1')
    .option('--json', 'print one JSON line')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { runBench, formatBench } = await import('../train/bench');
      for (const f of ['classes', 'batch', 'width', 'steps', 'warmup', 'experts', 'copies'])
        if (opts[f] !== undefined) intOption(opts[f], f, f === 'warmup' ? 0 : 1); // before a backend starts
      const threads = threadsFlag(opts.threads);
      const info = await initBackend({ backend: opts.backend, quiet: Boolean(opts.json), threads });
      const mini = opts.model === 'mini';
      const num = (v: string | undefined, flag: string) => (v === undefined ? undefined : intOption(v, flag));
      const r = await runBench({
        model: mini ? 'resnet8' : opts.model,
        classes: mini && opts.classes === '100' ? 10 : num(opts.classes, 'classes')!,
        batch: num(opts.batch, 'batch')!,
        width: num(opts.width, 'width') ?? (mini ? getProtocol('mini', 'nclpp').model.width : 16),
        inChannels: mini ? 1 : 3,
        size: mini ? 28 : 32,
        steps: num(opts.steps, 'steps'),
        warmup: opts.warmup === '0' ? 0 : num(opts.warmup, 'warmup'),
        experts: num(opts.experts, 'experts'),
        copies: num(opts.copies, 'copies'),
        method: opts.method ?? 'ce',
        backend: info.backend,
      });
      console.log(opts.json ? JSON.stringify(r) : formatBench(r));
    });

  program.addCommand(dataCommand());

  const reproduceCmd = program
    .command('reproduce')
    .description(
      'train the runs a paper figure needs (cached by config hash) and write results/<id>.{png,html,json}',
    )
    .argument(
      '<ids...>',
      `figure ids (${FIGURE_IDS.join(', ')}), 'all', or a file exporting a figure (./figures/mine.ts)`,
    )
    .option('--protocol <name>', 'protocol of the runs', DEFAULT_PROTOCOL)
    .option('--seeds <n>', 'seeds per configuration', String(DEFAULT_SEEDS))
    .option('--workers <n>', 'parallel training processes', '2')
    .option('--results <dir>', 'results folder (default: the workspace results/)')
    .option('--no-png', 'skip PNG rendering (HTML and data only)')
    .option('--plan', 'list the runs to train with estimated CPU time, and stop (trains and writes nothing)')
    .option(
      '--no-train',
      'train nothing: wait for the runs other processes train, build the figures, fail naming runs nobody trains',
    )
    .addOption(backendOption())
    .addOption(
      threadsOption('threads per worker (default: the cores divided among the workers; env NCL_THREADS)'),
    );
  addExecutorOptions(reproduceCmd).action(async (args: string[], opts) => {
    protocolOption(opts.protocol);
    let ids: FigureRef[];
    try {
      // A path is a figure file of your own (experiments/figure-file.ts): the FigureSpec it exports.
      ids = args.map((a) => (looksLikePath(a) ? loadFigureFile(a) : a));
      resolveIds(ids);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const seeds = intOption(opts.seeds, 'seeds');
    const workers = intOption(opts.workers, 'workers');
    const cluster = executorFromFlags(opts);
    const root = workspaceRoot() ?? process.cwd();
    const resultsDir = path.resolve(
      opts.results === undefined ? path.join(root, 'results') : folderOption(opts.results, 'results'),
    );
    if (opts.plan) {
      const order = resolveIds(ids).map((f) => f.id);
      console.log(formatPlan(planRuns({ ids, protocol: opts.protocol, seeds, resultsDir }), workers, order));
      return;
    }
    makeFolder(resultsDir); // a bad --results fails before anything starts
    const threads = threadsForWorkers(opts.threads, workers, 'reproduce');
    await initBackend({ backend: opts.backend, threads }); // figures build models too (FLOP counts), in this process
    const run = clusterOptions(cluster);
    await reproduce({
      ...run.options,
      ids,
      protocol: opts.protocol,
      seeds,
      workers,
      resultsDir,
      png: opts.png,
      backend: opts.backend,
      train: opts.train,
    }).finally(run.end);
  });

  program
    .command('status')
    .description(
      'where the runs of each figure stand: finished, running (host, epoch), queued, failed (from run folders and squeue)',
    )
    .argument(
      '[ids...]',
      "figure ids or 'all' (default: the sweeps submitted to SLURM from --results, else all)",
    )
    .option('--protocol <name>', 'protocol of the runs (with ids)', DEFAULT_PROTOCOL)
    .option('--seeds <n>', 'seeds per configuration (with ids)', String(DEFAULT_SEEDS))
    .option('--results <dir>', 'results folder (default: the workspace results/)')
    .option('--json', 'print the status as JSON')
    .action(async (ids: string[], opts) => {
      const root = workspaceRoot() ?? process.cwd();
      const resultsDir = path.resolve(opts.results ?? path.join(root, 'results'));
      const { sweepStatus, submittedGroups, formatStatus } = await import('../experiments/status');
      const { queue, slurmAvailable } = await import('../experiments/slurm');
      const { runDir } = await import('../experiments/runs');
      let groups = ids.length ? [] : submittedGroups(resultsDir);
      if (!groups.length) {
        protocolOption(opts.protocol);
        const seeds = Array.from({ length: intOption(opts.seeds, 'seeds') }, (_, i) => i);
        let specs;
        try {
          specs = resolveIds(ids.length ? ids : ['all']);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        groups = specs.map((s) => ({
          id: s.id,
          runs: [
            ...new Set(
              s.runs(opts.protocol, seeds).map((c) => path.relative(resultsDir, runDir(resultsDir, c))),
            ),
          ],
        }));
      }
      const q = slurmAvailable() ? queue() : null;
      const st = sweepStatus(resultsDir, groups, q);
      console.log(opts.json ? JSON.stringify(st, null, 1) : formatStatus(st, resultsDir));
      if (!q && !opts.json) console.log('(no squeue here: queued SLURM tasks are not shown)');
    });

  const compareCmd = program
    .command('compare')
    .description(
      'compare a method (a name, a file, or NAME for methods/NAME.ts) with baselines over seeds: trains only the ' +
        'missing runs, prints mean ± std and the verdict against each baseline, writes PNG + HTML + JSON',
    )
    .argument(
      '<method>',
      'the method: a registered name, a method file (./methods/focal.ts), or NAME for methods/NAME.ts',
    )
    .requiredOption('--against <methods>', 'baselines, comma-separated (e.g. bsce,nclpp)')
    .option('--protocol <name>', 'protocol of the runs', DEFAULT_PROTOCOL)
    .option('--seeds <n>', 'seeds 0 … n − 1', String(DEFAULT_SEEDS))
    .option('--workers <n>', 'parallel training processes', '2')
    .addOption(
      new Option(
        '--metric <predictor>',
        'what is compared: top-1 of expert 1, the ensemble or the mean over experts',
      )
        .choices(['expert1', 'ensemble', 'expertMean'])
        .default('expert1'),
    )
    .option('--root <dir>', 'folder whose runs/ holds the runs it trains (default: the workspace)')
    .option(
      '--results <dir>',
      'results folder whose finished runs are reused first (default: <root>/results)',
    )
    .option(
      '--out <base>',
      'base path of the .png, .html and .json (default: <root>/runs/compare-<method>-<protocol>)',
    )
    .option('--id <id>', 'the figure id in its JSON (default: compare-<method>)')
    .option('--title <text>', 'the figure title (default: "<method> vs <baselines>")')
    .option('--no-png', 'skip PNG rendering (HTML and data only)')
    .option('--retrain', 'train even where identical finished runs exist')
    .option('--plan', 'say what would be reused and trained and how long it should take, and stop')
    .addOption(backendOption());
  addExecutorOptions(compareCmd).action(async (what: string, opts) => {
    protocolOption(opts.protocol);
    const seeds = intOption(opts.seeds, 'seeds');
    const workers = intOption(opts.workers, 'workers');
    const method = methodOption(what);
    const against = String(opts.against)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!against.length) throw new UsageError('--against: give at least one baseline (e.g. bsce,nclpp)');
    against.forEach((b) => methodOption(b));
    if (opts.root !== undefined) folderOption(opts.root, 'root');
    if (opts.results !== undefined) folderOption(opts.results, 'results');
    if (opts.id !== undefined && !/^[\w.-]+$/.test(opts.id))
      throw new UsageError(`--id ${opts.id}: letters, digits, . _ - (it names the files)`);
    const cluster = executorFromFlags(opts);
    const root = path.resolve(opts.root ?? workspaceRoot() ?? process.cwd());
    if (!opts.plan) {
      // A method registered in this process (not from a file) trains here; the others in workers.
      const threads = threadsForWorkers(undefined, workers, 'compare');
      await initBackend({ backend: opts.backend, threads });
    }
    const { compare } = await import('../experiments/method-comparison');
    const run = clusterOptions(cluster);
    await compare(method, {
      ...run.options,
      against,
      protocol: opts.protocol,
      seeds,
      workers,
      metric: { predictor: opts.metric },
      root,
      resultsDir: opts.results && path.resolve(opts.results),
      out: opts.out && path.resolve(opts.out),
      png: opts.png === false ? false : undefined,
      id: opts.id,
      title: opts.title,
      retrain: Boolean(opts.retrain),
      plan: Boolean(opts.plan),
      backend: opts.backend,
    }).finally(run.end);
  });

  const startCmd = program
    .command('start')
    .description(
      'the main job: NCL++ against CE and BSCE on one protocol over seeds, with verdicts (reuses identical finished ' +
        'runs of results/runs/)',
    )
    .option('--protocol <name>', 'protocol', 'mini')
    .option('--seeds <n>', 'seeds 0 … n − 1', String(DEFAULT_SEEDS))
    .option('--workers <n>', 'parallel training processes', '2')
    .option('--root <dir>', 'folder whose runs/ holds the runs it trains (default: the workspace)')
    .option(
      '--results <dir>',
      'results folder whose finished runs are reused (default: the workspace results/)',
    )
    .option('--retrain', 'train even when identical finished runs exist')
    .option('--plan', 'say what would be trained and how long it should take, and stop')
    .addOption(backendOption());
  addExecutorOptions(startCmd).action(async (opts) => {
    const seeds = intOption(opts.seeds, 'seeds');
    const workers = intOption(opts.workers, 'workers');
    protocolOption(opts.protocol);
    if (opts.root !== undefined) folderOption(opts.root, 'root');
    if (opts.results !== undefined) folderOption(opts.results, 'results');
    const cluster = executorFromFlags(opts);
    const threads = threadsForWorkers(undefined, workers, 'start');
    await initBackend({ backend: opts.backend, threads });
    const root = path.resolve(opts.root ?? workspaceRoot() ?? process.cwd());
    const resultsDir = path.resolve(opts.results ?? path.join(root, 'results'));
    const { start } = await import('./start');
    const run = clusterOptions(cluster);
    await start({
      ...run.options,
      protocol: opts.protocol,
      seeds,
      workers,
      root,
      resultsDir,
      retrain: Boolean(opts.retrain),
      planOnly: Boolean(opts.plan),
      backend: opts.backend,
    }).finally(run.end);
  });
  return program;
}

/**
 * What `ncl reproduce`, `ncl compare` and `ncl start` hand to the sweep for their executor: SLURM's settings, and on
 * SLURM the submission printed, `--wait`'s bar, and Ctrl-C stopping the watching (not the jobs); locally, Ctrl-C
 * stops the runs at their last checkpoint.
 */
function clusterOptions(c: ReturnType<typeof executorFromFlags>) {
  const onCluster = c.executor === 'slurm';
  const signal = stopOnSignals(
    onCluster
      ? 'no longer watching (the jobs go on; ncl status follows them)'
      : 'stopping the runs in progress at their last checkpoint',
  );
  const bar = sweepBar();
  return {
    options: {
      executor: c.executor,
      slurm: c.slurm,
      wait: c.wait,
      signal,
      onSubmitted: (s: Submission) => console.log(submissionText(s)),
      onSweepProgress: bar.update,
    },
    /** Once the command is over: the bar stopped, and the exit status of a watching stopped by a signal. */
    end: () => {
      bar.stop();
      if (signal.aborted && onCluster) process.exitCode = signalStatus(String(signal.reason));
    },
  };
}

/** What `ncl reproduce --executor slurm` prints once it has submitted: the jobs, where their logs go, how to watch. */
function submissionText(s: Submission): string {
  const rel = (f: string) => (f.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), f) : f);
  const runs = s.arrays.reduce((n, a) => n + a.runs.length, 0);
  return [
    `submitted ${runs} run(s) to SLURM: ` +
      (s.arrays.length
        ? s.arrays.map((a) => `job array ${a.job} (${a.runs.length} task(s))`).join(', then ')
        : 'none (all are finished or already in the queue)'),
    ...(s.followUp ? [`${s.followUp.name}: job ${s.followUp.job}, once every run has finished`] : []),
    ...(s.skipped.finished.length ? [`${s.skipped.finished.length} run(s) already finished`] : []),
    ...(s.skipped.inFlight.length
      ? [
          `${s.skipped.inFlight.length} run(s) already training or queued: ${s.skipped.inFlight.map((r) => r.job).join(', ')}`,
        ]
      : []),
    `each run's log: <run folder>.log under ${rel(path.join(s.resultsDir, 'runs'))}; jobs: ${rel(s.dir)}`,
    `watch: ncl status --results ${rel(s.resultsDir)}`,
  ].join('\n');
}

/** `--wait`'s progress over the sweep's runs: a bar on a terminal, else a line whenever the counts change. */
function sweepBar(): { update: (p: FollowProgress) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | null = null;
  let last = '';
  return {
    update: (p) => {
      const text = `${p.finished}/${p.total} runs finished, ${p.running} running, ${p.pending} pending`;
      if (process.stderr.isTTY) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: 'runs [{bar}] {value}/{total} | {running} running, {pending} pending',
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.total, p.finished, p);
        }
        bar.update(p.finished, p);
      } else if (text !== last) console.error(`[slurm] ${text}`);
      last = text;
    },
    stop: () => bar?.stop(),
  };
}

/**
 * One line for an error: the message of the expected ones (bad options, data, a refused or failed run; a config
 * error as `path: problem`), the class and message of anything else (a bug; NCL_DEBUG=1 prints its stack). A failed
 * sweep lists every run and figure that failed, one per line.
 */
export function errorLine(e: unknown): string {
  if (e instanceof ZodError) return formatConfigError(e);
  if (!(e instanceof Error)) return String(e);
  if (e.name === 'SweepFailed') return e.message;
  const known =
    e instanceof UsageError ||
    e instanceof TrainingError ||
    e.name === 'DataError' ||
    e.name === 'FileWriteError';
  const line = (known ? e.message : `${e.name}: ${e.message}`).split('\n')[0];
  return known ? line : `${line} (NCL_DEBUG=1 shows where)`;
}

/** Entry point of the `ncl` bin. */
export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((e: unknown) => {
      if (e instanceof SweepStopped) {
        console.error(`ncl: ${e.message}`);
        process.exit(signalStatus(e.signal));
      }
      console.error(`ncl: error: ${errorLine(e)}`);
      if (process.env.NCL_DEBUG) console.error((e as Error).stack);
      process.exit(1);
    });
}

if (require.main === module) main(process.argv);
