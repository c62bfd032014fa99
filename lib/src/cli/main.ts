/**
 * `ncl`: the command line of ncl-lab (commander).
 *
 *   ncl train --protocol mini --method nclpp [--seed 0] [--out DIR] [--resume | --restart] [--set key=value ...]
 *   ncl eval  --run DIR
 *   ncl bench --model resnet32 --classes 100 --batch 128 [--json]
 *   ncl reproduce fig8 table1 ... | all [--protocol mini] [--seeds 3] [--workers 2]
 *   ncl compare ./methods/focal.ts --against bsce,nclpp [--protocol mini] [--seeds 3]
 *   ncl data fetch|info|subset|check-subset ...
 *   ncl start            (the main job: mini protocol, NCL++ against CE and BSCE over 3 seeds, with verdicts)
 *
 * Errors are one line on stderr and a non-zero exit; nothing is written for an invalid configuration.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { initBackend, backendInfo, BACKENDS } from '../backend';
import { ZodError } from 'zod';
import { formatConfigError } from '../train/config';
import { methodNames } from '../losses';
import { PROTOCOL_NAMES, getProtocol } from '../train/protocols';
import { readMetrics, trainRun, Metrics, TrainingError, TrainingStopped } from '../train/trainer';
import { checkRunFolder, sameConfig } from '../train/resume';
import {
  configFromFlags,
  intOption,
  methodOption,
  minutesOption,
  protocolOption,
  SHORTCUTS,
  UsageError,
} from './options';
import { evalRun, openEvalRun } from './eval';
import { FIGURE_IDS, formatPlan, planRuns, reproduce, resolveIds } from '../experiments/reproduce';
import { DEFAULT_PROTOCOL, DEFAULT_SEEDS } from '../experiments/spec';
import { workspaceRoot } from '../data/locate';
import { dataCommand } from '../data/cli';

function backendOption(): Option {
  return new Option(
    '--backend <name>',
    'force a tfjs backend (default: the fastest available; env NCL_BACKEND)',
  ).choices([...BACKENDS]);
}

function defaultOut(protocol: string, method: string, seed: number | string): string {
  return path.join('runs', protocol, `${method}-seed${seed}`);
}

/** Train one run, or return its metrics when `out` already holds a finished run of the same config (--resume). */
async function trainCommand(flags: Record<string, unknown>): Promise<Metrics> {
  if (flags.resume && flags.restart) throw new UsageError('--resume, --restart: give one or the other');
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
  await initBackend({ backend: flags.backend as never, quiet: backendInfo() != null }); // once per process
  const { metrics, model } = await trainRun(config, {
    outDir: out,
    ...folder,
    resultsRoot: flags.results as string | undefined,
    deadline,
  });
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
    .addOption(backendOption());
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
      const run = openEvalRun(opts.run); // checks config and checkpoint before starting a backend
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
    .action(async (opts) => {
      const { runBench, formatBench } = await import('../train/bench');
      const info = await initBackend({ backend: opts.backend, quiet: Boolean(opts.json) });
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

  program
    .command('reproduce')
    .description(
      'train the runs a paper figure needs (cached by config hash) and write results/<id>.{png,html,json}',
    )
    .argument('<ids...>', `figure ids (${FIGURE_IDS.join(', ')}) or 'all'`)
    .option('--protocol <name>', 'protocol of the runs', DEFAULT_PROTOCOL)
    .option('--seeds <n>', 'seeds per configuration', String(DEFAULT_SEEDS))
    .option('--workers <n>', 'parallel training processes', '2')
    .option('--results <dir>', 'results folder (default: the workspace results/)')
    .option('--no-png', 'skip PNG rendering (HTML and data only)')
    .option('--plan', 'list the runs to train with estimated CPU time, and stop (trains and writes nothing)')
    .addOption(backendOption())
    .action(async (ids: string[], opts) => {
      protocolOption(opts.protocol);
      try {
        resolveIds(ids);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const seeds = intOption(opts.seeds, 'seeds');
      const workers = intOption(opts.workers, 'workers');
      const root = workspaceRoot() ?? process.cwd();
      const resultsDir = path.resolve(opts.results ?? path.join(root, 'results'));
      if (opts.plan) {
        const order = resolveIds(ids).map((f) => f.id);
        console.log(
          formatPlan(planRuns({ ids, protocol: opts.protocol, seeds, resultsDir }), workers, order),
        );
        return;
      }
      await initBackend({ backend: opts.backend }); // figures build models too (FLOP counts), in this process
      await reproduce({
        ids,
        protocol: opts.protocol,
        seeds,
        workers,
        resultsDir,
        png: opts.png,
        backend: opts.backend,
      });
    });

  program
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
    .option('--no-png', 'skip PNG rendering (HTML and data only)')
    .option('--retrain', 'train even where identical finished runs exist')
    .option('--plan', 'say what would be reused and trained and how long it should take, and stop')
    .addOption(backendOption())
    .action(async (what: string, opts) => {
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
      const root = path.resolve(opts.root ?? workspaceRoot() ?? process.cwd());
      if (!opts.plan) await initBackend({ backend: opts.backend }); // a method without a file trains here
      const { compare } = await import('../experiments/method-comparison');
      await compare(method, {
        against,
        protocol: opts.protocol,
        seeds,
        workers,
        metric: { predictor: opts.metric },
        root,
        resultsDir: opts.results && path.resolve(opts.results),
        out: opts.out && path.resolve(opts.out),
        png: opts.png === false ? false : undefined,
        retrain: Boolean(opts.retrain),
        plan: Boolean(opts.plan),
        backend: opts.backend,
      });
    });

  program
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
    .addOption(backendOption())
    .action(async (opts) => {
      const seeds = intOption(opts.seeds, 'seeds');
      const workers = intOption(opts.workers, 'workers');
      protocolOption(opts.protocol);
      await initBackend({ backend: opts.backend });
      const root = path.resolve(opts.root ?? workspaceRoot() ?? process.cwd());
      const resultsDir = path.resolve(opts.results ?? path.join(root, 'results'));
      const { start } = await import('./start');
      await start({
        protocol: opts.protocol,
        seeds,
        workers,
        root,
        resultsDir,
        retrain: Boolean(opts.retrain),
        planOnly: Boolean(opts.plan),
        backend: opts.backend,
      });
    });
  return program;
}

/**
 * One line for an error: the message of the expected ones (bad options, data, a refused or failed run; a config
 * error as `path: problem`), the class and message of anything else (a bug; NCL_DEBUG=1 prints its stack).
 */
export function errorLine(e: unknown): string {
  if (e instanceof ZodError) return formatConfigError(e);
  if (!(e instanceof Error)) return String(e);
  const known = e instanceof UsageError || e instanceof TrainingError || e.name === 'DataError';
  const line = (known ? e.message : `${e.name}: ${e.message}`).split('\n')[0];
  return known ? line : `${line} (NCL_DEBUG=1 shows where)`;
}

/** Entry point of the `ncl` bin. */
export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((e: unknown) => {
      console.error(`ncl: error: ${errorLine(e)}`);
      if (process.env.NCL_DEBUG) console.error((e as Error).stack);
      process.exit(1);
    });
}

if (require.main === module) main(process.argv);
