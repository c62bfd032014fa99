/**
 * `ncl data ...`: dataset commands. `dataCommand()` is a commander Command the main CLI can mount; run directly
 * (`node lib/dist/data/cli.js <command>`) it is a CLI of its own. A `DataError` prints its one-line message on
 * stderr and exits 1.
 *
 *   fetch <name>                         find or download a dataset; prints its folder
 *   info <name>                          sizes, shapes, class counts, normalisation
 *   subset <name> --if 100 --seed 0 -o f write a long-tailed subset as JSON
 *   check-subset <file> [--dataset name] validate a subset file (against the dataset when it is found)
 */
import * as fs from 'node:fs';
import { Command } from 'commander';
import {
  classHistogram,
  checkSubset,
  loadSubset,
  longTailSubset,
  saveSubset,
  splitOf,
  subsetDigest,
} from './longtail';
import { ensureDataset, loadDataset } from './datasets';
import { DataError, displayPath } from './errors';
import { DATASET_NAMES, HEAD_CLASS_IMAGES, type DatasetName } from './types';
import { MAX_SEED } from './config';

function datasetName(s: string): DatasetName {
  if (!(DATASET_NAMES as readonly string[]).includes(s)) {
    throw new DataError(`unknown dataset '${s}' (known: ${DATASET_NAMES.join(', ')})`);
  }
  return s as DatasetName;
}

interface Common {
  dataDir?: string;
  offline?: boolean;
}

/** A number written in decimal (not '', '0x10' or '1e9') for which `ok` holds; a DataError naming the flag otherwise. */
function decimal(raw: string, flag: string, what: string, ok: (n: number) => boolean): number {
  const n = /^\d{1,10}(\.\d{1,16})?$/.test(raw) ? Number(raw) : NaN;
  if (!ok(n)) throw new DataError(`${flag}: expected ${what}, got '${raw}'`);
  return n;
}

/** The common options, checked: `--data-dir` is not empty and not a file (a DataError naming it otherwise). */
function common<O extends Common>(o: O): O {
  if (o.dataDir === undefined) return o;
  if (!o.dataDir.trim()) throw new DataError(`--data-dir: expected a folder, got '${o.dataDir}'`);
  const st = fs.statSync(o.dataDir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new DataError(`--data-dir ${o.dataDir}: is a file, not a folder`);
  return o;
}

export function dataCommand(): Command {
  const cmd = new Command('data').description('datasets: find, fetch, inspect, long-tailed subsets');
  cmd
    .command('fetch <name>')
    .description('find a dataset, downloading it when absent (unless NCL_OFFLINE=1); prints its folder')
    .option('--data-dir <dir>', 'data root searched first and used as the cache')
    .option('--offline', 'forbid downloads')
    .action(async (name: string, o: Common) => {
      console.log(await ensureDataset(datasetName(name), { ...common(o), progress: process.stderr.isTTY }));
    });
  cmd
    .command('info <name>')
    .description('print sizes, class counts and normalisation of a dataset')
    .option('--data-dir <dir>', 'data root searched first and used as the cache')
    .option('--offline', 'forbid downloads')
    .action(async (name: string, o: Common) => {
      const ds = await loadDataset(datasetName(name), { ...common(o), progress: process.stderr.isTTY });
      const shape = (s: typeof ds.train) => `[${s.n}, ${s.height}, ${s.width}, ${s.channels}]`;
      console.log(`${ds.name}: ${ds.numClasses} classes; train ${shape(ds.train)}, test ${shape(ds.test)}`);
      console.log(`mean ${ds.mean.join(', ')}; std ${ds.std.join(', ')}`);
      console.log(`train per class: ${classHistogram(ds.train.labels, ds.numClasses).join(' ')}`);
    });
  cmd
    .command('subset <name>')
    .description('draw a seeded long-tailed subset of the training set and write it as JSON')
    .requiredOption('-o, --out <file>', 'output JSON file')
    .option('--if <factor>', 'imbalance factor', '100')
    .option('--seed <n>', 'seed', '0')
    .option('--fraction <f>', 'fraction of each class count', '1')
    .option('--data-dir <dir>', 'data root searched first and used as the cache')
    .option('--offline', 'forbid downloads')
    .action(async (name: string, o: Common & { out: string; if: string; seed: string; fraction: string }) => {
      if (!o.out.trim()) throw new DataError(`--out: expected a file, got '${o.out}'`);
      const dataset = datasetName(name);
      const head = HEAD_CLASS_IMAGES[dataset];
      const opts = {
        imbalanceFactor: decimal(o.if, '--if', `a number from 1 to ${head}`, (n) => n >= 1 && n <= head),
        seed: decimal(
          o.seed,
          '--seed',
          `an integer from 0 to ${MAX_SEED}`,
          (n) => Number.isInteger(n) && n <= MAX_SEED,
        ),
        fraction: decimal(o.fraction, '--fraction', 'a number in (0, 1]', (n) => n > 0 && n <= 1),
      };
      const s = longTailSubset(await loadDataset(dataset, common(o)), opts);
      saveSubset(o.out, s);
      const splits = { many: 0, medium: 0, few: 0 };
      s.classCounts.forEach((n) => splits[splitOf(n)]++);
      console.log(
        `${displayPath(o.out)}: ${s.indices.length} images; classes many ${splits.many}, ` +
          `medium ${splits.medium}, few ${splits.few}; sha256 ${subsetDigest(s)}`,
      );
    });
  cmd
    .command('check-subset <file>')
    .description('validate a subset JSON file, and against its dataset when that is on disk')
    .option('--data-dir <dir>', 'data root searched first')
    .action(async (file: string, o: Common) => {
      const s = loadSubset(file);
      const ds = await loadDataset(s.dataset, { ...common(o), offline: true });
      checkSubset(ds, s, displayPath(file));
      console.log(
        `${displayPath(file)}: ok (${s.dataset}, IF ${s.imbalanceFactor}, ${s.indices.length} images, sha256 ${subsetDigest(s)})`,
      );
    });
  return cmd;
}

/** Runs `argv` (without node and script) through `dataCommand()`; returns the exit code. */
export async function runDataCli(argv: string[]): Promise<number> {
  const cmd = dataCommand().exitOverride();
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof DataError) {
      console.error(`error: ${e.message}`);
      return 1;
    }
    const code = (e as { exitCode?: number; code?: string }).exitCode;
    if (typeof code === 'number') return code; // commander already printed usage / help
    throw e;
  }
}

if (require.main === module) {
  runDataCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
