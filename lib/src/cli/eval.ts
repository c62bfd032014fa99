/**
 * `ncl eval --run DIR`: rebuild a run's model from config.json + checkpoint.bin and evaluate it on the test set; also
 * print the loss's own trainable variables (Table 6's learnable λ) when the checkpoint has any.
 *
 * The checkpoint must be intact (its checksum) and of the run's config.json: one of another run is refused. One from
 * before the last epoch is evaluated, and labelled partial (`checkpoint.partial` in the JSON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatConfigError, TrainConfig } from '../train/config';
import { prepareData, modelFromConfig } from '../train/trainer';
import {
  loadCheckpoint,
  lossVariablesOf,
  restoreVariables,
  type LoadedCheckpoint,
} from '../train/checkpoint';
import { readJSON, sameConfig, type RunState } from '../train/resume';
import { evaluateModel } from '../eval/metrics';
import { learnedLambdas } from '../losses/learnable';
import { UsageError } from './options';

export interface EvalRun {
  dir: string;
  config: TrainConfig;
  checkpoint: LoadedCheckpoint<RunState>;
}

/** A run folder's config.json and checkpoint.bin, checked: valid, intact, and of each other. */
export function openEvalRun(dir: string): EvalRun {
  const cfgFile = path.join(dir, 'config.json');
  const ckpt = path.join(dir, 'checkpoint.bin');
  if (!fs.existsSync(cfgFile)) throw new UsageError(`--run ${dir}: no config.json`);
  if (!fs.existsSync(ckpt)) throw new UsageError(`--run ${dir}: no checkpoint.bin`);
  const raw = readJSON(cfgFile);
  const parsed = TrainConfig.safeParse(raw);
  if (!parsed.success) throw new UsageError(`${cfgFile}: invalid config: ${formatConfigError(parsed.error)}`);
  const loaded = loadCheckpoint<RunState>(ckpt);
  if (!sameConfig(loaded.state.configHash, parsed.data, raw))
    throw new UsageError(
      `${ckpt}: belongs to another run (config ${loaded.state.configHash}), not to ${cfgFile}; nothing evaluated`,
    );
  return { dir, config: parsed.data, checkpoint: loaded };
}

/** Evaluate an opened run on its test set and print the result (JSON with `json`). */
export async function evalRun(run: EvalRun, json: boolean): Promise<void> {
  const { dir, config: c, checkpoint: loaded } = run;
  const ckpt = path.join(dir, 'checkpoint.bin');
  const epoch = loaded.state.nextEpoch;
  const checkpoint = { epoch, epochs: c.optim.epochs, partial: epoch < c.optim.epochs };
  const lossVariables = lossVariablesOf(loaded);
  const prep = await prepareData(c);
  const model = modelFromConfig(c, prep.dataset.numClasses, prep.train.channels);
  restoreVariables(ckpt, loaded, model.store.all());
  const r = await evaluateModel(model, prep.test, prep.classCounts, {
    batchSize: c.eval.batchSize,
    mean: prep.dataset.mean,
    std: prep.dataset.std,
  });
  model.dispose();
  if (json) {
    console.log(
      JSON.stringify({ ...r, checkpoint, ...(Object.keys(lossVariables).length ? { lossVariables } : {}) }),
    );
    return;
  }
  const pct = (x: number | null) => (x == null ? '-' : (100 * x).toFixed(2));
  const partial = checkpoint.partial
    ? ` [PARTIAL: checkpoint after epoch ${epoch} of ${c.optim.epochs}]`
    : '';
  console.log(
    `${dir}: top1 ${pct(r.top1)}% many ${pct(r.many)} medium ${pct(r.medium)} few ${pct(r.few)}${partial}`,
  );
  r.experts.forEach((e, k) => console.log(`  expert ${k + 1}: top1 ${pct(e.top1)}%`));
  for (const [n, v] of Object.entries(lossVariables)) console.log(`  loss variable ${n} = ${v.join(', ')}`);
  const l = learnedLambdas(lossVariables);
  if (l)
    console.log(`  learned (λ_intra, λ_inter) = (${l.lambdaIntra.toFixed(3)}, ${l.lambdaInter.toFixed(3)})`);
}
