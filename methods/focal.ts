/**
 * Focal loss (Lin et al., ICCV 2017) as an ncl-lab method: for each expert, FL = −(1 − p_y)^γ · log p_y averaged
 * over the rows, with p = softmax(z) (or, with `balanced`, the balanced softmax of Eq. 2: softmax(z + log n)).
 * γ = 0 is cross-entropy (BSCE when balanced), and its canonical form says so: those runs are CE's (BSCE's).
 *
 *   npx ncl train --method ./methods/focal.ts --protocol smoke             (or --method focal: methods/focal.ts)
 *   npx ncl train --method focal --protocol smoke --set loss.gamma=1
 *   npx ncl compare focal --against bsce,nclpp --protocol smoke --seeds 2
 *   npx tsx methods/focal.ts                                               (one smoke run, as a check)
 *
 * Written against the lib's public API only: the lib loads this file in every training process and keys its runs
 * by its content hash (and that of the files it imports), so editing it trains it again.
 */
import { defineMethod, initBackend, losses, tf, train, z } from 'ncl-lab';

const focal = defineMethod({
  name: 'focal',
  label: 'Focal',
  description: 'focal loss −(1 − p_y)^γ log p_y per expert (Lin et al., 2017)',
  options: z.object({
    /** γ ≥ 0: how much easy examples (p_y near 1) are down-weighted; 0 is cross-entropy. */
    gamma: z.number().min(0).default(2),
    /** Focal loss on the balanced softmax (Eq. 2) instead of the plain one. */
    balanced: z.boolean().default(false),
  }),
  loss:
    ({ gamma, balanced }) =>
    (logits, labels, classCounts) =>
      tf.tidy(() => {
        const perExpert = logits.map((z) => {
          const logp = tf.logSoftmax(balanced ? losses.balancedLogits(z, classCounts) : z);
          const onehot = tf.oneHot(labels, z.shape[1]);
          const logpy = tf.sum(tf.mul(onehot, logp), 1); // log p_y per row
          const weight = tf.pow(tf.sub(1, tf.exp(logpy)), gamma); // (1 − p_y)^γ
          return tf.neg(tf.mean(tf.mul(weight, logpy))) as tf.Scalar;
        });
        const total = tf.addN(perExpert) as tf.Scalar;
        return { total, terms: { focal: tf.clone(total) } };
      }),
  // γ = 0 trains CE (BSCE when balanced) exactly: name those runs as such, so that they are shared with them.
  canonical: (c) =>
    c.loss.gamma === 0
      ? { ...c, method: c.loss.balanced ? 'bsce' : 'ce', loss: { numCopies: c.loss.numCopies, teachers: [] } }
      : c,
});
export default focal;

// `npx tsx methods/focal.ts`: one smoke run of this file's method, as `ncl train --method` would train it.
if (require.main === module) {
  void (async () => {
    await initBackend({ quiet: true });
    const config = train.getProtocol('smoke', __filename);
    const { metrics, model } = await train.trainRun(config, { progress: false });
    model.dispose();
    console.log(
      `${config.method} on smoke: top-1 ${(100 * metrics.test.top1).toFixed(2)}% (key ${train.configHash(config)})`,
    );
  })();
}
