/**
 * `ncl eval --run DIR`: rebuild a run's model from config.json + checkpoint.bin and evaluate it on the test set; also
 * print the loss's own trainable variables (Table 6's learnable λ) when the checkpoint has any.
 *
 * `--record-loss-variables` writes those variables into a finished run's metrics.json when it predates the trainer
 * recording them (runs before 2026-11-27): the final checkpoint holds exactly the values the trainer would have
 * written, and `lossVariablesFrom: 'checkpoint.bin'` says where they came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configHash, TrainConfig } from '../train/config';
import { prepareData, modelFromConfig, readMetrics } from '../train/trainer';
import { atomicWrite, loadCheckpoint, lossVariablesOf, restoreVariables } from '../train/checkpoint';
import { evaluateModel } from '../eval/metrics';
import { learnedLambdas } from '../losses/learnable';
import { UsageError } from './options';

export async function evalRun(dir: string, json: boolean, record = false): Promise<void> {
  const cfgFile = path.join(dir, 'config.json');
  const ckpt = path.join(dir, 'checkpoint.bin');
  if (!fs.existsSync(cfgFile)) throw new UsageError(`--run ${dir}: no config.json`);
  if (!fs.existsSync(ckpt)) throw new UsageError(`--run ${dir}: no checkpoint.bin`);
  const parsed = TrainConfig.safeParse(JSON.parse(fs.readFileSync(cfgFile, 'utf8')));
  if (!parsed.success) throw new UsageError(`${cfgFile}: invalid config: ${parsed.error.issues[0].message}`);
  const c = parsed.data;
  const loaded = loadCheckpoint<{ configHash: string; nextEpoch: number }>(ckpt);
  const lossVariables = lossVariablesOf(loaded);
  if (record) recordLossVariables(dir, c, loaded.state, lossVariables);
  const prep = await prepareData(c);
  const model = modelFromConfig(c, prep.dataset.numClasses, prep.train.channels);
  restoreVariables(ckpt, loaded, model.store.all());
  const r = await evaluateModel(model, prep.test, prep.classCounts, {
    batchSize: c.eval.batchSize,
    mean: prep.dataset.mean,
    std: prep.dataset.std,
  });
  model.dispose();
  if (json) console.log(JSON.stringify(Object.keys(lossVariables).length ? { ...r, lossVariables } : r));
  else {
    const pct = (x: number | null) => (x == null ? '-' : (100 * x).toFixed(2));
    console.log(`${dir}: top1 ${pct(r.top1)}% many ${pct(r.many)} medium ${pct(r.medium)} few ${pct(r.few)}`);
    r.experts.forEach((e, k) => console.log(`  expert ${k + 1}: top1 ${pct(e.top1)}%`));
    for (const [n, v] of Object.entries(lossVariables)) console.log(`  loss variable ${n} = ${v.join(', ')}`);
    const l = learnedLambdas(lossVariables);
    if (l)
      console.log(
        `  learned (λ_intra, λ_inter) = (${l.lambdaIntra.toFixed(3)}, ${l.lambdaInter.toFixed(3)})`,
      );
  }
}

function recordLossVariables(
  dir: string,
  c: TrainConfig,
  state: { configHash: string; nextEpoch: number },
  lossVariables: Record<string, number[]>,
): void {
  const file = path.join(dir, 'metrics.json');
  const metrics = readMetrics(dir);
  const hash = configHash(c);
  if (state.configHash !== hash)
    throw new UsageError(
      `--record-loss-variables: ${dir}/checkpoint.bin belongs to another config than config.json`,
    );
  if (!metrics || metrics.configHash !== hash)
    throw new UsageError(
      `--record-loss-variables: ${file} is missing or belongs to another config (run unfinished?)`,
    );
  if (state.nextEpoch !== c.optim.epochs)
    throw new UsageError(
      `--record-loss-variables: ${dir}/checkpoint.bin is from epoch ${state.nextEpoch} of ${c.optim.epochs}, not the final one`,
    );
  if (!Object.keys(lossVariables).length)
    throw new UsageError(`--record-loss-variables: ${dir}/checkpoint.bin has no loss variables (loss.*)`);
  if (metrics.lossVariables) {
    if (JSON.stringify(metrics.lossVariables) !== JSON.stringify(lossVariables))
      throw new UsageError(`--record-loss-variables: ${file} already records different loss variables`);
    return;
  }
  atomicWrite(
    file,
    JSON.stringify({ ...metrics, lossVariables, lossVariablesFrom: 'checkpoint.bin' }, null, 1) + '\n',
  );
}
