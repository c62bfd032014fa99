/**
 * The analysis figures and tables of Sec. 4 (Figs. 1, 2, 8-11, Tables 1 and 5). Their runs are `analysisRun`s:
 * every method with K = 2 experts at the protocol's imbalance factor. Per-class quantities are plotted with classes
 * sorted by training images (the paper's x axis); claims about the tail compare the less frequent half of the
 * classes with the more frequent half.
 */
import { getProtocol } from '../train/protocols';
import type { TrainConfig } from '../train/config';
import { longTailCounts } from '../data';
import { createModel, modelFlops, MODEL_REGISTRY, ModelName } from '../models';
import { classProfilesFigure, meanStdBarsFigure, meanStdLinesFigure } from '../viz/stat-plots';
import { splitSizes } from '../viz/plots';
import type { RunResult } from './runs';
import { greater, judge, within, POINTS, RAW, type Check, type Unit } from './claims';
import { cellName, comparisonFigure } from './compare';
import {
  analysisRun,
  configsOf,
  runConfig,
  runsOf,
  ANALYSIS_EXPERTS,
  EXPERT1,
  ENSEMBLE,
  methodLabel,
  FigureOutput,
  FigureSpec,
  Metric,
  Split,
  runStat,
  type FigureContext,
} from './spec';
import { stat, statArrays, meanStd, percentRange, Stat } from './stats';
import { PAPER_FIG1, PAPER_FIG11B, PAPER_TABLE1, PAPER_TABLE5 } from './paper';
import { tsne2d, knnAccuracy } from './embedding';

/** Classes and training images of the largest class (n_max) of each dataset. */
const DATASET_SHAPE: Record<string, { classes: number; nMax: number }> = {
  'fashion-mnist': { classes: 10, nMax: 6000 },
  mnist: { classes: 10, nMax: 5923 },
  cifar10: { classes: 10, nMax: 5000 },
  cifar100: { classes: 100, nMax: 500 },
  'cifar100-coarse': { classes: 20, nMax: 2500 },
};

/** The methods Figs. 9 and 11b compare. */
const ALL_METHODS = ['ce', 'bsce', 'ncl', 'nclpp'];

/** A figure's `runs`: the analysis runs (`analysisRun`) of these methods, every seed. */
const analysisRunsOf =
  (methods: string[]) =>
  (protocol: string, seeds: number[]): TrainConfig[] =>
    configsOf(
      protocol,
      seeds,
      methods.map((m) => analysisRun(m)),
    );
const KL: Unit = RAW(4);

/** Classes sorted by training count, most frequent first (the paper's x axis). */
function classOrder(counts: number[]): number[] {
  return counts.map((_, j) => j).sort((a, b) => counts[b] - counts[a] || a - b);
}
/** The more frequent half of the classes, and the rest. */
const headHalf = (order: number[]) => order.slice(0, Math.ceil(order.length / 2));
const tailHalf = (order: number[]) => order.slice(Math.ceil(order.length / 2));
const meanOver = (a: number[], idx: number[]) => idx.reduce((s, j) => s + a[j], 0) / idx.length;

/**
 * A per-class quantity of several series (one array per seed each) as lines over the classes sorted by training
 * images, with the data written for it: per seed and mean ± std, in class order.
 */
function perClassFigure(
  title: string,
  yTitle: string,
  series: { name: string; perSeed: number[][] }[],
  classCounts: number[],
  scale = 1,
) {
  const order = classOrder(classCounts);
  const rows = series.map((s) => {
    const perSeed = s.perSeed.map((a) => order.map((j) => a[j]));
    const st = statArrays(perSeed);
    return { name: s.name, classes: order, perSeed, mean: st.map((v) => v.mean), std: st.map((v) => v.std) };
  });
  const figure = meanStdLinesFigure({
    title,
    xTitle: 'class (sorted by training images, most frequent first)',
    yTitle,
    xs: order.map((j) => `${j} (n=${classCounts[j]})`),
    series: rows.map((r) => ({
      name: r.name,
      mean: r.mean.map((v) => v * scale),
      std: r.std.map((v) => v * scale),
    })),
    legendBelow: true,
  });
  return { figure, data: rows };
}

/** A figure whose claim is judged on named quantities (intervals of accuracies no narrower than `ctx.floor`). */
function judged(
  out: Omit<FigureOutput, 'verdict' | 'reading'>,
  checks: Check[],
  stats: Record<string, Stat>,
  unit: Unit | ((name: string) => Unit) = POINTS,
  ctx?: FigureContext,
): FigureOutput {
  const j = judge(checks, stats, unit, { floor: ctx?.floor });
  return {
    ...out,
    data: { ...(out.data as object), checks: j.checks },
    verdict: j.verdict,
    reading: j.reading,
  };
}

const illustration = (what: string) => ({
  verdict: 'n/a (illustration)' as const,
  reading: `An illustration, with no comparison to judge: ${what}.`,
});

const fig1: FigureSpec = {
  id: 'fig1',
  title: 'Fig. 1: class counts of the long-tailed training sets, with many/medium/few bands',
  runs: () => [],
  describes: (protocol) => [100, 50].map((imb) => runConfig(protocol, 0, analysisRun('nclpp', imb))),
  build: (ctx) => {
    const c = getProtocol(ctx.protocol, 'nclpp');
    const here = (imb: number) => {
      const { classes, nMax } = DATASET_SHAPE[c.data.dataset];
      const f = c.data.fraction;
      return longTailCounts(classes, nMax, imb).map((n) =>
        f === 1 ? n : Math.max(1, Math.floor(f * n + 1e-9)),
      );
    };
    const sets = [
      { name: `${c.data.dataset}-LT IF 100 (trained here)`, counts: here(100) },
      { name: `${c.data.dataset}-LT IF 50 (trained here)`, counts: here(50) },
      { name: 'CIFAR-10-LT IF 100 (paper)', counts: longTailCounts(10, 5000, 100) },
      { name: 'CIFAR-100-LT IF 100 (paper)', counts: longTailCounts(100, 500, 100) },
    ];
    const data = sets.map((s) => ({
      ...s,
      total: s.counts.reduce((a, b) => a + b, 0),
      splits: splitSizes(s.counts),
    }));
    const cifar100 = data[3].total;
    return {
      figure: classProfilesFigure('Training images per class (sorted), log scale', sets),
      data,
      claim: `LT sets follow n_i = n_max · IF^(−i/(C−1)); CIFAR-100-LT IF 100 has ${PAPER_FIG1.cifar100LtImages.toLocaleString('en')} images.`,
      measured: data
        .map(
          (d) =>
            `${d.name}: ${d.total} images, many/medium/few classes ${d.splits.many}/${d.splits.medium}/${d.splits.few}`,
        )
        .join('; '),
      ...illustration(
        `the profile gives CIFAR-100-LT IF 100 ${cifar100} images, ${cifar100 === PAPER_FIG1.cifar100LtImages ? 'as' : 'unlike'} the paper`,
      ),
    };
  },
};

const fig2a: FigureSpec = {
  id: 'fig2a',
  title: 'Fig. 2a: per-class KL between two independently trained experts, and between two augmented copies',
  runs: analysisRunsOf(['bsce']),
  build: (ctx) => {
    const rs = runsOf(ctx, analysisRun('bsce'));
    const counts = rs[0].metrics.classCounts;
    const { figure, data } = perClassFigure(
      'BSCE, no collaboration: per-class symmetric KL',
      'mean symmetric KL',
      [
        { name: 'two experts (different seeds)', perSeed: rs.map((r) => r.analysis!.klExperts!) },
        { name: 'two augmented copies (expert 1)', perSeed: rs.map((r) => r.analysis!.klCopies) },
      ],
      counts,
    );
    const order = classOrder(counts);
    const half = (pick: (r: RunResult) => number[], idx: number[]) =>
      runStat(rs, (r) => meanOver(pick(r), idx));
    const experts = (r: RunResult) => r.analysis!.klExperts!;
    const copies = (r: RunResult) => r.analysis!.klCopies;
    const s = {
      'experts, tail half': half(experts, tailHalf(order)),
      'experts, head half': half(experts, headHalf(order)),
      'copies, tail half': half(copies, tailHalf(order)),
      'copies, head half': half(copies, headHalf(order)),
    };
    return judged(
      {
        figure,
        data: { series: data, halves: s },
        claim: 'Without collaboration, experts and augmented copies disagree (KL > 0), most on tail classes.',
        measured: Object.entries(s)
          .map(([k, v]) => `KL between ${k} ${meanStd(v, 1, 4)}`)
          .join('; '),
      },
      [
        greater('experts, tail half', 'experts, head half'),
        greater('copies, tail half', 'copies, head half'),
      ],
      s,
      KL,
      ctx,
    );
  },
};

/** Symmetric KL between two distributions. */
const symmetricKL = (p: number[], q: number[]) =>
  p.reduce((s, pj, j) => s + 0.5 * (pj - q[j]) * (Math.log(pj + 1e-12) - Math.log(q[j] + 1e-12)), 0);

const fig2b: FigureSpec = {
  id: 'fig2b',
  title: "Fig. 2b: two independently trained experts' predicted distributions on one test image",
  runs: (protocol, seeds) => configsOf(protocol, seeds.slice(0, 1), [analysisRun('bsce')]),
  build: (ctx) => {
    const r = ctx.get(runConfig(ctx.protocol, ctx.seeds[0], analysisRun('bsce')));
    const examples = r.analysis!.examples;
    // The example where the experts disagree most.
    const kl = examples.map((e) => symmetricKL(e.probs[0], e.probs[1]));
    const k = kl.indexOf(Math.max(...kl));
    const e = examples[k];
    const classes = e.probs[0].map((_, j) => String(j));
    return {
      figure: meanStdBarsFigure({
        title: `Test image ${e.index} (label ${e.label}): symmetric KL ${kl[k].toFixed(4)}`,
        categories: classes,
        series: e.probs.map((p, i) => ({ name: `expert ${i + 1}`, mean: p, std: p.map(() => 0) })),
        yTitle: 'predicted probability',
      }),
      data: {
        seed: ctx.seeds[0],
        example: e,
        kl: kl[k],
        allExamples: examples.map((x, i) => ({ index: x.index, label: x.label, kl: kl[i] })),
      },
      claim: 'Two experts trained alike give visibly different distributions on the same image.',
      measured: `image ${e.index} (label ${e.label}): p(label) ${e.probs.map((p) => p[e.label].toFixed(3)).join(' vs ')}, symmetric KL ${kl[k].toFixed(4)}`,
      ...illustration(`the image of seed ${ctx.seeds[0]}'s examples on which the two experts disagree most`),
    };
  },
};

const fig8: FigureSpec = {
  id: 'fig8',
  title: 'Fig. 8: per-class accuracy of CE, BSCE and NCL++ (single expert)',
  runs: analysisRunsOf(['ce', 'bsce', 'nclpp']),
  build: (ctx) => {
    const methods = ['ce', 'bsce', 'nclpp'];
    const runs = Object.fromEntries(methods.map((m) => [m, runsOf(ctx, analysisRun(m))])) as Record<
      string,
      RunResult[]
    >;
    const counts = runs.nclpp[0].metrics.classCounts;
    const { figure, data } = perClassFigure(
      'Per-class top-1 (%), expert 1',
      'accuracy (%)',
      methods.map((m) => ({
        name: methodLabel(m),
        perSeed: runs[m].map((r) => r.metrics.test.experts[0].perClass),
      })),
      counts,
      100,
    );
    const tail = tailHalf(classOrder(counts));
    const s = Object.fromEntries(
      methods.map((m) => [
        methodLabel(m),
        runStat(runs[m], (r) => meanOver(r.metrics.test.experts[0].perClass, tail)),
      ]),
    );
    const fewSplit = Object.fromEntries(
      methods.map((m) => [
        m,
        runStat(runs[m], (r) => r.metrics.test.experts[0].few ?? r.metrics.test.experts[0].top1),
      ]),
    );
    return judged(
      {
        figure,
        data: { series: data, fewSplit, tailHalf: s },
        claim: 'NCL++ improves tail classes dramatically over CE and over BSCE on almost all classes.',
        measured: `tail-half accuracy (expert 1): ${Object.entries(s)
          .map(([k, v]) => `${k} ${meanStd(v)}`)
          .join(', ')}`,
      },
      [greater('NCL++', 'CE'), greater('NCL++', 'BSCE')],
      s,
      POINTS,
      ctx,
    );
  },
};

function fig9(what: 'experts' | 'copies'): FigureSpec {
  const pick = (r: RunResult) => (what === 'experts' ? r.analysis!.klExperts! : r.analysis!.klCopies);
  return {
    id: what === 'experts' ? 'fig9a' : 'fig9b',
    title: `Fig. 9${what === 'experts' ? 'a' : 'b'}: per-class KL between two ${what === 'experts' ? 'experts' : 'augmented copies'} for CE, BSCE, NCL, NCL++`,
    runs: analysisRunsOf(ALL_METHODS),
    build: (ctx) => {
      const runs = ALL_METHODS.map((m) => runsOf(ctx, analysisRun(m)));
      const { figure, data } = perClassFigure(
        `Mean symmetric KL between two ${what === 'experts' ? 'experts (same image)' : 'augmented copies (same expert)'}`,
        'mean symmetric KL',
        ALL_METHODS.map((m, i) => ({ name: methodLabel(m), perSeed: runs[i].map(pick) })),
        runs[3][0].metrics.classCounts,
      );
      const s: Record<string, Stat> = Object.fromEntries(
        ALL_METHODS.map((m, i) => [
          methodLabel(m),
          runStat(runs[i], (r) => pick(r).reduce((a, b) => a + b, 0) / pick(r).length),
        ]),
      );
      return judged(
        {
          figure,
          data: { series: data, classMean: s },
          claim:
            what === 'experts'
              ? 'Collaboration (NCL, NCL++) greatly reduces the KL between experts compared with CE and BSCE.'
              : 'IntraCL (NCL++) reduces the KL between augmented copies; NCL (no IntraCL) leaves it large.',
          measured: `mean over classes: ${Object.entries(s)
            .map(([k, v]) => `${k} ${meanStd(v, 1, 4)}`)
            .join(', ')}`,
        },
        what === 'experts'
          ? [greater('BSCE', 'NCL++'), greater('CE', 'NCL++'), greater('BSCE', 'NCL')]
          : [greater('BSCE', 'NCL++'), greater('NCL', 'NCL++')],
        s,
        KL,
        ctx,
      );
    },
  };
}

const fig10: FigureSpec = {
  id: 'fig10',
  title: 'Fig. 10: t-SNE of test features, BSCE beside NCL++',
  runs: analysisRunsOf(['bsce', 'nclpp']),
  build: (ctx) => {
    const pair = ['bsce', 'nclpp'].map((m) => runsOf(ctx, analysisRun(m)));
    const knn = pair.map((rs) =>
      runStat(rs, (r) => knnAccuracy(r.analysis!.features.values, r.analysis!.features.labels, 5)),
    );
    const first = pair.map((rs) => rs[0].analysis!.features);
    const emb = first.map((f) => tsne2d(f.values, ctx.seeds[0]));
    const traces: Record<string, unknown>[] = [];
    first.forEach((f, i) => {
      const C = Math.max(...f.labels) + 1;
      for (let c = 0; c < C; c++) {
        const idx = f.labels.map((l, k) => (l === c ? k : -1)).filter((k) => k >= 0);
        traces.push({
          type: 'scatter',
          mode: 'markers',
          name: `class ${c}`,
          legendgroup: `c${c}`,
          showlegend: i === 0,
          xaxis: i === 0 ? 'x' : 'x2',
          yaxis: i === 0 ? 'y' : 'y2',
          x: idx.map((k) => emb[i][k][0]),
          y: idx.map((k) => emb[i][k][1]),
          marker: { size: 5, color: `hsl(${(360 * c) / C},70%,45%)` },
        });
      }
    });
    const s = { BSCE: knn[0], 'NCL++': knn[1] };
    return judged(
      {
        figure: {
          data: traces,
          layout: {
            title: {
              text: `t-SNE of penultimate features (seed ${ctx.seeds[0]}): BSCE (left), NCL++ (right)`,
            },
            grid: { rows: 1, columns: 2, pattern: 'independent' },
            xaxis: { showticklabels: false },
            yaxis: { showticklabels: false },
            xaxis2: { showticklabels: false },
            yaxis2: { showticklabels: false },
          },
        },
        data: {
          knn5: { bsce: knn[0], nclpp: knn[1] },
          embedding: { seed: ctx.seeds[0], bsce: emb[0], nclpp: emb[1], labels: first.map((f) => f.labels) },
        },
        claim: 'NCL++ features cluster more compactly by class than BSCE features.',
        measured: `5-NN leave-one-out accuracy in feature space: BSCE ${meanStd(knn[0])}, NCL++ ${meanStd(knn[1])}`,
      },
      [greater('NCL++', 'BSCE')],
      s,
      POINTS,
      ctx,
    );
  },
};

const fig11a: FigureSpec = {
  id: 'fig11a',
  title: 'Fig. 11a: distribution of the probability of the hardest negative class, BSCE vs NCL++',
  runs: analysisRunsOf(['bsce', 'nclpp']),
  build: (ctx) => {
    const rs = ['bsce', 'nclpp'].map((m) => runsOf(ctx, analysisRun(m)));
    const edges = rs[0][0].analysis!.hardestNegative.edges;
    const share = (r: RunResult) => {
      const h = r.analysis!.hardestNegative.expert;
      const n = h.reduce((a, b) => a + b, 0);
      return h.map((v) => v / n);
    };
    const hist = rs.map((list) => statArrays(list.map(share)));
    const means = rs.map((list) => runStat(list, (r) => r.analysis!.hardestNegative.meanExpert));
    const above = rs.map((list) =>
      runStat(list, (r) => share(r).reduce((s, v, k) => s + (edges[k] >= 0.4 ? v : 0), 0)),
    );
    const mids = edges.slice(0, -1).map((e, k) => ((e + edges[k + 1]) / 2).toFixed(3));
    const s = {
      'BSCE mean': means[0],
      'NCL++ mean': means[1],
      'BSCE share ≥ 0.4': above[0],
      'NCL++ share ≥ 0.4': above[1],
    };
    return judged(
      {
        figure: {
          ...meanStdBarsFigure({
            title: 'Hardest-negative probability max_{j≠y} p_j on the test set (expert 1)',
            categories: mids,
            series: ['BSCE', 'NCL++'].map((name, i) => ({
              name,
              mean: hist[i].map((v) => v.mean),
              std: hist[i].map((v) => v.std),
            })),
            yTitle: 'fraction of test images',
          }),
        },
        data: {
          edges,
          bsce: hist[0],
          nclpp: hist[1],
          mean: { bsce: means[0], nclpp: means[1] },
          fractionAbove04: { bsce: above[0], nclpp: above[1] },
        },
        claim: 'NCL++ concentrates hardest-negative scores in 0–0.4; BSCE spreads over the whole interval.',
        measured: `mean hardest-negative probability BSCE ${meanStd(means[0], 1, 3)} vs NCL++ ${meanStd(means[1], 1, 3)}; share of test images ≥ 0.4: BSCE ${meanStd(above[0])}% vs NCL++ ${meanStd(above[1])}%`,
      },
      [greater('BSCE mean', 'NCL++ mean'), greater('BSCE share ≥ 0.4', 'NCL++ share ≥ 0.4')],
      s,
      (name) => (name.endsWith('mean') ? RAW(3) : POINTS),
      ctx,
    );
  },
};

const fig11b: FigureSpec = {
  id: 'fig11b',
  title: 'Fig. 11b: many- and few-split accuracy of every method, single expert and ensemble',
  runs: analysisRunsOf(ALL_METHODS),
  build: (ctx) => {
    const rows = ALL_METHODS.flatMap((m) => {
      const rs = runsOf(ctx, analysisRun(m));
      return [EXPERT1, ENSEMBLE].map((metric) => {
        const of = (split: Split) =>
          runStat(rs, (r) => {
            const t = r.metrics.test;
            return (metric.predictor === 'ensemble' ? t.ensemble : t.experts[0])[split] ?? NaN;
          });
        return {
          name: `${methodLabel(m)} (${metric.predictor === 'ensemble' ? `ensemble of ${ANALYSIS_EXPERTS}` : 'expert 1'})`,
          many: of('many'),
          medium: of('medium'),
          few: of('few'),
        };
      });
    });
    // The tail split the claim is judged on: 'few' (< 20 images) when the training set has such classes, else
    // 'medium' (Fashion-MNIST-LT IF 100 has no class under 60 images).
    const tail: 'few' | 'medium' = rows.every((r) => Number.isNaN(r.few.mean)) ? 'medium' : 'few';
    const shown: Split[] = ['many', tail];
    const s = Object.fromEntries(
      rows.flatMap((r) => shown.map((k) => [cellName(r.name, k), r[k as 'many']])),
    );
    return judged(
      {
        figure: meanStdBarsFigure({
          title: `Split accuracy (%): many (> 100 images) and ${tail} (${tail === 'few' ? '< 20' : '20-100'})`,
          categories: rows.map((r) => r.name),
          series: shown.map((k) => ({
            name: k,
            mean: rows.map((r) => 100 * r[k as 'many'].mean),
            std: rows.map((r) => 100 * r[k as 'many'].std),
          })),
          yTitle: 'accuracy (%)',
          yRange: percentRange(rows.flatMap((r) => shown.map((k) => r[k as 'many']))),
        }),
        data: { rows, tailSplit: tail, paper: PAPER_FIG11B },
        claim: `NCL++ improves the few split (paper: ${PAPER_FIG11B.nclppFewSingle}% single expert vs RIDE ${PAPER_FIG11B.rideFew}%) while keeping the many split.`,
        measured:
          (tail === 'medium'
            ? 'no class has < 20 training images here, so the tail split is medium (20-100); '
            : '') +
          rows.map((r) => `${r.name}: many ${meanStd(r.many)}, ${tail} ${meanStd(r[tail])}`).join('; '),
      },
      [
        greater(cellName('NCL++ (expert 1)', tail), cellName('BSCE (expert 1)', tail)),
        greater(cellName('NCL++ (expert 1)', tail), cellName('CE (expert 1)', tail)),
      ],
      s,
      POINTS,
      ctx,
    );
  },
};

const TABLE1_ROWS: { label: string; method: string; metric: Metric; paper: string | null }[] = [
  { label: 'CE', method: 'ce', metric: EXPERT1, paper: null },
  { label: 'BSCE', method: 'bsce', metric: EXPERT1, paper: 'BSCE (baseline)' },
  { label: 'NCL (single expert)', method: 'ncl', metric: EXPERT1, paper: 'NCL' },
  { label: 'NCL++ (single expert)', method: 'nclpp', metric: EXPERT1, paper: 'NCL++ (single expert)' },
  {
    label: `NCL++ (ensemble, ${ANALYSIS_EXPERTS} experts)`,
    method: 'nclpp',
    metric: ENSEMBLE,
    paper: 'NCL++ (ensemble, 2 experts)',
  },
];
const TABLE1_IFS = [100, 50];
const ifLabel = (imb: number) => `IF ${imb}`;
const at100 = (row: string) => cellName(ifLabel(100), row);
const table1 = comparisonFigure({
  id: 'table1',
  title: 'Table 1: top-1 at IF 100 and IF 50, CE / BSCE / NCL / NCL++ (single) / NCL++ (ensemble)',
  plot: { kind: 'bars', title: 'Top-1 (%) at IF 100 and IF 50' },
  series: TABLE1_IFS.map((imb) => ({
    name: ifLabel(imb),
    metric: EXPERT1,
    points: TABLE1_ROWS.map((r) => ({
      x: r.label,
      label: r.label,
      run: analysisRun(r.method, imb),
      metric: r.metric,
    })),
  })),
  claim: {
    text: `BSCE > CE; NCL++ > NCL > BSCE (single expert); the ${ANALYSIS_EXPERTS}-expert ensemble adds more (CIFAR-100-LT IF 100: ${PAPER_TABLE1.rows.map((r) => r.cifar100[100]).join(' → ')}).`,
    checks: [
      greater(at100('BSCE'), at100('CE')),
      greater(at100('NCL (single expert)'), at100('BSCE')),
      greater(at100('NCL++ (single expert)'), at100('NCL (single expert)')),
      greater(at100(TABLE1_ROWS[4].label), at100('NCL++ (single expert)')),
    ],
  },
  table: (m, ctx) => {
    const ds = getProtocol(ctx.protocol, 'nclpp').data.dataset;
    const p1 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
    return [
      `| method | ${TABLE1_IFS.map((imb) => `${ds}-LT IF ${imb} (here, ${ctx.protocol})`).join(' | ')} | CIFAR-100-LT 100 / 50 (paper) | CIFAR-10-LT 100 / 50 (paper) |`,
      '|---|---|---|---|---|',
      ...TABLE1_ROWS.map((r) => {
        const pr = PAPER_TABLE1.rows.find((p) => p.method === r.paper);
        const paper100 =
          r.method === 'ce'
            ? `${PAPER_TABLE1.ceCifar100IF100} / -`
            : pr
              ? `${p1(pr.cifar100[100])} / ${p1(pr.cifar100[50])}`
              : '-';
        const paper10 = pr ? `${p1(pr.cifar10[100])} / ${p1(pr.cifar10[50])}` : '-';
        return `| ${r.label} | ${TABLE1_IFS.map((imb) => meanStd(m.at(r.label, ifLabel(imb)))).join(' | ')} | ${paper100} | ${paper10} |`;
      }),
      '',
      `Here: ${ctx.protocol} protocol, mean ± std over seeds ${ctx.seeds.join(', ')}. Paper: ${PAPER_TABLE1.protocol}.`,
    ].join('\n');
  },
});

const table5: FigureSpec = {
  id: 'table5',
  title: 'Table 5: training and test FLOPs per image of each method, counted from the model definitions',
  runs: () => [],
  describes: (protocol) => [getProtocol(protocol, 'nclpp')],
  build: (ctx) => {
    const here = getProtocol(ctx.protocol, 'nclpp');
    const paper = getProtocol('paper-cifar100-lt', 'nclpp');
    const input = (c: TrainConfig) => ({
      size: c.data.dataset.includes('cifar') ? 32 : 28,
      ch: c.data.dataset.includes('cifar') ? 3 : 1,
      classes: DATASET_SHAPE[c.data.dataset].classes,
    });
    const models = [
      { label: `${here.model.name} w${here.model.width} (${ctx.protocol})`, c: here },
      { label: `${paper.model.name} w${paper.model.width}, CIFAR-100 (paper)`, c: paper },
    ];
    const rows = models.flatMap(({ label, c }) => {
      const { size, ch, classes } = input(c);
      const m = createModel(
        {
          name: c.model.name as ModelName,
          width: c.model.width,
          numClasses: classes,
          inChannels: ch,
          numExperts: 1,
        },
        0,
      );
      const f = modelFlops(m, size, size).forwardPerExpert;
      m.dispose();
      const K = c.model.numExperts;
      const T = c.loss.numCopies;
      const g = (x: number) => +(x / 1e9).toFixed(4);
      const row = (method: string, experts: number, copies: number) => ({
        model: label,
        method,
        forwardTrainPaperConvention: g(experts * f),
        trainPerImage: g(3 * experts * copies * f),
        test: g(f),
        testEnsemble: g(experts * f),
      });
      return [
        row('CE / BSCE (1 network)', 1, 1),
        row(`NCL (${K} experts, T = 1)`, K, 1),
        row(`NCL++ (${K} experts, T = ${T})`, K, T),
      ];
    });
    const table = [
      '| model | method | train GFLOPs (paper convention: K × forward) | train GFLOPs per image (3 × K × T × forward) | test GFLOPs (single expert) | test GFLOPs (ensemble) |',
      '|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.model} | ${r.method} | ${r.forwardTrainPaperConvention} | ${r.trainPerImage} | ${r.test} | ${r.testEnsemble} |`,
      ),
      '',
      `Paper (ImageNet-LT, ResNet-50): ${PAPER_TABLE5.map((r) => `${r.method} train ${r.train} / test ${r.test} GFLOPs`).join('; ')}.`,
      'Counted convolutions and the classifier (2 FLOPs per multiply-add); BN, ReLU and pooling excluded.',
    ].join('\n');
    const ratio = rows[2].forwardTrainPaperConvention / rows[2].test;
    const paperNclpp = PAPER_TABLE5[2];
    const paperRatio = paperNclpp.train / paperNclpp.test;
    const categories = rows.map((r) => `${r.method}<br>${r.model}`);
    return judged(
      {
        figure: meanStdBarsFigure({
          title: 'GFLOPs per image',
          categories,
          series: [
            {
              name: 'train (K × forward)',
              mean: rows.map((r) => r.forwardTrainPaperConvention),
              std: rows.map(() => 0),
            },
            { name: 'test (single expert)', mean: rows.map((r) => r.test), std: rows.map(() => 0) },
          ],
          yTitle: 'GFLOPs',
          yLog: true,
        }),
        data: { rows, paper: PAPER_TABLE5, models: MODEL_REGISTRY },
        table,
        claim: `NCL++ with ${paper.model.numExperts} experts costs ${paper.model.numExperts}× a single network's forward FLOPs in training (${paperNclpp.train} vs ${paperNclpp.test} GFLOPs) and 1× at test with a single expert.`,
        measured: `train/test ratio for NCL++ (K = ${here.model.numExperts}): ${ratio.toFixed(2)} here vs ${paperRatio.toFixed(2)} in the paper`,
      },
      [within('train/test ratio here', 'train/test ratio in the paper', 0.05)],
      { 'train/test ratio here': stat([ratio]), 'train/test ratio in the paper': stat([paperRatio]) },
      RAW(2),
      ctx,
    );
  },
};

export const ANALYSIS_FIGURES: FigureSpec[] = [
  fig1,
  fig2a,
  fig2b,
  fig8,
  fig9('experts'),
  fig9('copies'),
  fig10,
  fig11a,
  fig11b,
  table1,
  table5,
];
