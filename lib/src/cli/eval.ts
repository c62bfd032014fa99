/** `ncl eval --run DIR`: rebuild a run's model from config.json + checkpoint.bin and evaluate it on the test set. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig } from '../train/config';
import { prepareData, modelFromConfig } from '../train/trainer';
import { loadCheckpoint, restoreVariables } from '../train/checkpoint';
import { evaluateModel } from '../eval/metrics';
import { UsageError } from './options';

export async function evalRun(dir: string, json: boolean): Promise<void> {
  const cfgFile = path.join(dir, 'config.json');
  const ckpt = path.join(dir, 'checkpoint.bin');
  if (!fs.existsSync(cfgFile)) throw new UsageError(`--run ${dir}: no config.json`);
  if (!fs.existsSync(ckpt)) throw new UsageError(`--run ${dir}: no checkpoint.bin`);
  const parsed = TrainConfig.safeParse(JSON.parse(fs.readFileSync(cfgFile, 'utf8')));
  if (!parsed.success) throw new UsageError(`${cfgFile}: invalid config: ${parsed.error.issues[0].message}`);
  const c = parsed.data;
  const prep = await prepareData(c);
  const model = modelFromConfig(c, prep.dataset.numClasses, prep.train.channels);
  restoreVariables(ckpt, loadCheckpoint(ckpt), model.store.all());
  const r = await evaluateModel(model, prep.test, prep.classCounts, {
    batchSize: c.eval.batchSize,
    mean: prep.dataset.mean,
    std: prep.dataset.std,
  });
  model.dispose();
  if (json) console.log(JSON.stringify(r));
  else {
    const pct = (x: number | null) => (x == null ? '-' : (100 * x).toFixed(2));
    console.log(`${dir}: top1 ${pct(r.top1)}% many ${pct(r.many)} medium ${pct(r.medium)} few ${pct(r.few)}`);
    r.experts.forEach((e, k) => console.log(`  expert ${k + 1}: top1 ${pct(e.top1)}%`));
  }
}
