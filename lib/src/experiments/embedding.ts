/** Feature-space helpers for Fig. 10: t-SNE (tsne-js) and a k-NN separability score. */

import seedrandom from 'seedrandom';

/** 2-D t-SNE of `rows` (tsne-js). Seeded: tsne-js draws its initial layout from Math.random, which we replace by a
 * seedrandom stream for the duration of the call, so the same features and seed give the same picture. */
export function tsne2d(rows: number[][], seed: number, iterations = 500): number[][] {
  const TSNE = require('tsne-js') as new (o: Record<string, unknown>) => {
    init(o: { data: number[][]; type: string }): void;
    run(): void;
    getOutputScaled(): number[][];
  };
  const model = new TSNE({
    dim: 2,
    perplexity: 30,
    earlyExaggeration: 4,
    learningRate: 100,
    nIter: iterations,
    metric: 'euclidean',
  });
  const saved = Math.random;
  Math.random = seedrandom(`ncl-tsne-${seed}`);
  try {
    model.init({ data: rows, type: 'dense' });
    model.run();
    return model.getOutputScaled();
  } finally {
    Math.random = saved;
  }
}

/** Leave-one-out k-NN accuracy (Euclidean) of `rows` with `labels`: how well classes separate in feature space. */
export function knnAccuracy(rows: number[][], labels: number[], k: number): number {
  const n = rows.length;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const d: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let f = 0; f < rows[i].length; f++) s += (rows[i][f] - rows[j][f]) ** 2;
      d.push([s, labels[j]]);
    }
    d.sort((a, b) => a[0] - b[0]);
    const votes = new Map<number, number>();
    for (const [, l] of d.slice(0, k)) votes.set(l, (votes.get(l) ?? 0) + 1);
    let best = -1;
    let bestV = -1;
    for (const [l, v] of votes) if (v > bestV || (v === bestV && l < best)) [best, bestV] = [l, v];
    if (best === labels[i]) correct++;
  }
  return correct / n;
}
