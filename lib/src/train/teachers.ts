/**
 * Offline distillation (Fig. 12b, "BIL + OffDis") as a TrainLoss: the finished runs of `loss.teachers` are loaded
 * once; before each micro-batch their averaged balanced predictions on it become the fixed teacher of
 * losses.offlineDistillation (BSCE + λ·KL(teacher‖p)).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../tf';
import { averageTeacherProbs, offlineDistillation } from '../losses';
import type { LossFn, LossMode } from '../losses';
import type { MultiExpert } from '../models/experts';
import { workspaceRoot } from '../data/locate';
import { formatConfigError, TrainConfig } from './config';
import { CheckpointError, loadCheckpoint, restoreVariables } from './checkpoint';
import { TrainingError } from './errors';
import type { TrainLoss } from './loss';
import { modelFromConfig } from './model';
import { readJSON, sameConfig, type RunState } from './resume';

/** The distillation loss of `c` (whose `loss.teachers` is not empty), on data of `numClasses` and `channels`. */
export function teacherLoss(
  c: TrainConfig,
  resultsRoot: string | undefined,
  numClasses: number,
  channels: number,
  classCounts: number[],
): TrainLoss {
  const teachers = loadTeachers(c, resultsRoot, numClasses, channels);
  let probs: tf.Tensor2D | null = null;
  const fn: LossFn = (logits, labels, counts) => {
    // λ and the semantics of the method's options (the paper's methods have both; otherwise their defaults).
    const r = offlineDistillation(logits, labels, counts, probs!, {
      lambda: c.loss.lambda as number | undefined,
      mode: c.loss.mode as LossMode | undefined,
    });
    return { total: r.total, terms: { bil: r.bil, distill: r.distill } };
  };
  return {
    fn,
    variables: new Map(),
    prepare(batch) {
      probs?.dispose();
      probs = tf.tidy(() =>
        averageTeacherProbs(
          teachers.map((t) => t.apply(batch.x, false)[0].logits),
          classCounts,
        ),
      );
    },
    dispose() {
      probs?.dispose();
      probs = null;
      for (const t of teachers) t.dispose();
    },
  };
}

/**
 * The teacher models of `loss.teachers`: each a finished run's config.json + final checkpoint.bin (verified, of that
 * config), one expert each (its first).
 */
function loadTeachers(
  c: TrainConfig,
  root: string | undefined,
  numClasses: number,
  channels: number,
): MultiExpert[] {
  const base = root ?? path.join(workspaceRoot() ?? process.cwd(), 'results');
  const out: MultiExpert[] = [];
  try {
    for (const rel of c.loss.teachers) {
      const dir = path.resolve(base, rel);
      const ckpt = path.join(dir, 'checkpoint.bin');
      if (!fs.existsSync(ckpt))
        throw new TrainingError(`loss.teachers: ${dir} has no checkpoint.bin (train that run first)`);
      const cfgFile = path.join(dir, 'config.json');
      const raw = readJSON(cfgFile);
      const parsed = TrainConfig.safeParse(raw);
      if (!parsed.success)
        throw new TrainingError(`${cfgFile}: invalid config: ${formatConfigError(parsed.error)}`);
      const tc = parsed.data;
      const loaded = loadCheckpoint<RunState>(ckpt);
      if (!sameConfig(loaded.state.configHash, tc, raw))
        throw new CheckpointError(`${ckpt}: belongs to another config than ${cfgFile}`);
      if (loaded.state.nextEpoch !== tc.optim.epochs)
        throw new TrainingError(
          `loss.teachers: ${dir} is unfinished (epoch ${loaded.state.nextEpoch} of ${tc.optim.epochs}); finish it first`,
        );
      const m = modelFromConfig(tc, numClasses, channels);
      out.push(m);
      restoreVariables(ckpt, loaded, m.store.all());
    }
    return out;
  } catch (e) {
    for (const m of out) m.dispose();
    throw e;
  }
}
