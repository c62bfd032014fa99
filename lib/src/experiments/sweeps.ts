/**
 * The sweeps and ablations of Sec. 4.4-4.5: Figs. 5, 6, 7, 12 and Tables 4, 6, 7, 8, 9, each a `comparisonFigure`
 * declaration: its points (one run per seed each), the metric, the paper's claim as comparisons, a plot kind.
 */
import { getProtocol } from '../train/protocols';
import { learnedLambdas } from '../losses/learnable';
import { EXPERIMENT_VARIANTS, TABLE7_ROWS, variantComponents, type VariantName } from '../losses/methods';
import { greater, type Check } from './claims';
import { cellName, comparisonFigure, Point } from './compare';
import {
  runsOf,
  variantRun,
  methodLabel,
  Metric,
  RunSpec,
  FigureSpec,
  FigureContext,
  Augmentation,
  EXPERT1,
  EXPERT_MEAN,
  ENSEMBLE,
} from './spec';
import { meanStd } from './stats';
import {
  PAPER_BEST,
  PAPER_FIG12,
  PAPER_TABLE4,
  PAPER_TABLE6,
  PAPER_TABLE7,
  PAPER_TABLE8,
  PAPER_TABLE9,
} from './paper';

/** A sweep of one setting whose claim is "the paper's best value beats both ends". */
function sweep(o: {
  id: string;
  title: string;
  symbol: string;
  xs: number[];
  paperBest: number;
  claim: string;
  metric: Metric;
  run: (x: number) => RunSpec;
}): FigureSpec {
  const label = (x: number) => `${o.symbol} = ${x}`;
  const points: Point[] = o.xs.map((x) => ({ x, label: label(x), run: o.run(x) }));
  return comparisonFigure({
    id: o.id,
    title: o.title,
    plot: { kind: 'lines', title: o.title, xTitle: o.symbol },
    series: [
      { name: o.metric.predictor === 'expert1' ? 'expert 1' : 'mean over experts', metric: o.metric, points },
    ],
    claim: {
      text: o.claim,
      checks: [
        greater(label(o.paperBest), label(o.xs[0])),
        greater(label(o.paperBest), label(o.xs[o.xs.length - 1])),
      ],
    },
    more: (m) => {
      const best = o.xs.reduce((b, x) => (m.at(label(x)).mean > m.at(label(b)).mean ? x : b), o.xs[0]);
      return { data: { bestHere: best, paperBest: o.paperBest }, measured: `best here ${label(best)}` };
    },
  });
}

const fig5a = sweep({
  id: 'fig5a',
  title: 'Fig. 5a: ratio β = C_hard / C of hard categories (BSCE + HCM, one expert)',
  symbol: 'β',
  xs: [0, 0.2, 0.3, 0.4, 0.5, 0.7, 1],
  paperBest: PAPER_BEST.beta,
  claim: `β = ${PAPER_BEST.beta} is best; small and large β bring limited gains.`,
  metric: EXPERT1,
  // β = 0 mines no hard categories: BSCE itself.
  run: (beta) => (beta === 0 ? variantRun('bil') : variantRun('bil+nfl', { loss: { beta } })),
});

const fig5b = sweep({
  id: 'fig5b',
  title: 'Fig. 5b: loss weight λ of NCL++',
  symbol: 'λ',
  xs: [0, 0.2, 0.4, 0.6, 0.8, 1.0],
  paperBest: PAPER_BEST.lambda,
  claim: `λ = ${PAPER_BEST.lambda} is best; ignoring or over-weighting collaboration is worse.`,
  metric: EXPERT_MEAN,
  run: (lambda) => variantRun('nclpp', { loss: { lambda } }),
});

const copiesLabel = (t: number) => `T = ${t}`;
const FIG6A_INTRA = 'IntraCL (expert 1)';
const FIG6A_COPIES = 'BSCE on T copies';
const fig6a = comparisonFigure({
  id: 'fig6a',
  title: 'Fig. 6a: T augmented copies for IntraCL, one expert, no InterCL; beside BSCE on the same T copies',
  plot: { kind: 'lines', title: 'IntraCL with T copies, and the copies alone (expert 1)', xTitle: 'T' },
  series: [
    {
      name: FIG6A_INTRA,
      metric: EXPERT1,
      points: [1, 2, 3, 4].map((t) => ({
        x: t,
        label: copiesLabel(t),
        run: { method: 'nclpp', experts: 1, copies: t, loss: { options: { interCL: false } } },
      })),
    },
    {
      // The compute-matched control (not in the paper): the same T copies and passes, no KL term, no mining.
      name: FIG6A_COPIES,
      metric: EXPERT1,
      points: [1, 2, 3, 4].map((t) => ({ x: t, label: copiesLabel(t), run: { method: 'bsce', copies: t } })),
    },
  ],
  measuredSeries: [FIG6A_INTRA, FIG6A_COPIES],
  claim: {
    text:
      `Accuracy rises with T, best at T = ${PAPER_BEST.copies}; T = 2 already gives most of the gain. ` +
      'Checked here also against BSCE on the same T = 2 copies (a control the paper does not run).',
    checks: [
      greater(cellName(FIG6A_INTRA, copiesLabel(2)), cellName(FIG6A_INTRA, copiesLabel(1))),
      greater(cellName(FIG6A_INTRA, copiesLabel(PAPER_BEST.copies)), cellName(FIG6A_INTRA, copiesLabel(1))),
      greater(cellName(FIG6A_INTRA, copiesLabel(2)), cellName(FIG6A_COPIES, copiesLabel(2))),
    ],
  },
});

const fig6b = comparisonFigure({
  id: 'fig6b',
  title: 'Fig. 6b: BSCE, BSCE + random categories, BSCE + HCM (one expert)',
  plot: { kind: 'bars', title: 'Hard categories by HCM vs at random (expert 1)' },
  series: [
    {
      name: 'expert 1',
      metric: EXPERT1,
      points: [
        { x: 'BSCE', label: 'BSCE', run: variantRun('bil') },
        { x: 'BSCE + random', label: 'BSCE + random', run: variantRun('bil+random') },
        { x: 'BSCE + HCM', label: 'BSCE + HCM', run: variantRun('bil+nfl') },
      ],
    },
  ],
  claim: {
    text: "'BSCE + random' is slightly better than BSCE and far worse than 'BSCE + HCM'.",
    checks: [greater('BSCE + HCM', 'BSCE + random'), greater('BSCE + HCM', 'BSCE')],
  },
});

const experts = [1, 2, 3, 4];
const kLabel = (k: number) => `K = ${k}`;
const fig7Series = (split: 'top1' | 'many' | 'medium' | 'few', metric: Metric) => ({
  name: `${split === 'top1' ? 'all' : split} (${metric.predictor === 'ensemble' ? 'ensemble' : 'expert mean'})`,
  metric: { ...metric, split },
  points: experts.map((k) => ({ x: k, label: kLabel(k), run: variantRun('bil+inter', { experts: k }) })),
});
const fig7 = comparisonFigure({
  id: 'fig7',
  title:
    'Fig. 7: 1 to 4 experts with InterCL (NCL): mean single expert and ensemble, all / many / medium / few',
  plot: { kind: 'lines', title: 'Experts in InterCL', xTitle: 'experts K' },
  series: (['top1', 'many', 'medium', 'few'] as const).flatMap((split) => [
    fig7Series(split, EXPERT_MEAN),
    fig7Series(split, ENSEMBLE),
  ]),
  claim: {
    text: 'The ensemble improves steadily with K; a single expert gains most from K = 1 → 2; ensemble > single.',
    checks: [
      greater(cellName('all (expert mean)', kLabel(2)), cellName('all (expert mean)', kLabel(1))),
      greater(cellName('all (ensemble)', kLabel(4)), cellName('all (ensemble)', kLabel(2))),
      greater(cellName('all (ensemble)', kLabel(2)), cellName('all (expert mean)', kLabel(2))),
    ],
  },
  measuredSeries: ['all (ensemble)', 'all (expert mean)'],
});

const fig12a = comparisonFigure({
  id: 'fig12a',
  title: 'Fig. 12a: InterCL with and without the balanced scale (single expert and ensemble)',
  plot: { kind: 'bars', title: 'InterCL on balanced vs plain probabilities' },
  series: [
    { name: 'expert mean', metric: EXPERT_MEAN },
    { name: 'ensemble', metric: ENSEMBLE },
  ].map((s) => ({
    ...s,
    points: [
      { x: 'balanced (NCL)', label: 'balanced', run: variantRun('bil+inter') },
      { x: 'w/o balanced scale', label: 'w/o balanced scale', run: variantRun('bil+inter-unbalanced') },
    ],
  })),
  claim: {
    text: `Removing the balanced scale from InterCL costs about ${PAPER_FIG12.unbalancedInterCost}% for a single expert and for the ensemble.`,
    checks: ['expert mean', 'ensemble'].map((s) =>
      greater(cellName(s, 'balanced'), cellName(s, 'w/o balanced scale')),
    ),
  },
});

const fig12b = comparisonFigure({
  id: 'fig12b',
  title: 'Fig. 12b: BIL + offline distillation (teacher: average of 3 BIL models) vs BIL + InterCL',
  plot: { kind: 'bars', title: 'Offline distillation vs online InterCL (expert 1)' },
  series: [
    {
      name: 'expert 1',
      metric: EXPERT1,
      points: [
        { x: 'BIL', label: 'BIL', run: variantRun('bil') },
        {
          x: 'BIL + OffDis',
          label: 'BIL + OffDis',
          run: { method: 'bsce', teachers: { run: variantRun('bil'), count: 3 } },
        },
        { x: 'BIL + InterCL', label: 'BIL + InterCL', run: variantRun('bil+inter') },
      ],
    },
  ],
  claim: {
    text: `BIL + OffDis improves on BIL but stays about ${PAPER_FIG12.offDisBelowInterCL}% below BIL + InterCL.`,
    checks: [greater('BIL + InterCL', 'BIL + OffDis'), greater('BIL + OffDis', 'BIL')],
  },
});

const AUGMENTATIONS: { augment: Augmentation; label: string }[] = [
  { augment: 'simaug', label: 'SimAug' },
  { augment: 'randaugment', label: 'RandAug' },
  { augment: 'mixup', label: 'Mixup' },
];
const TABLE4_ROWS: { name: keyof typeof PAPER_TABLE4; method: string; metric: Metric }[] = [
  { name: 'CE', method: 'ce', metric: EXPERT1 },
  { name: 'BSCE', method: 'bsce', metric: EXPERT1 },
  { name: 'BSCE+NCL++', method: 'nclpp', metric: EXPERT1 },
  { name: 'BSCE+NCL++ (ensemble)', method: 'nclpp', metric: ENSEMBLE },
];
const table4 = comparisonFigure({
  id: 'table4',
  title: 'Table 4: SimAug / RandAugment / Mixup × CE, BSCE, BSCE + NCL++ (single and ensemble)',
  plot: { kind: 'bars', title: 'Augmentations × methods' },
  series: TABLE4_ROWS.map((r) => ({
    name: r.name,
    metric: r.metric,
    points: AUGMENTATIONS.map((a) => ({
      x: a.label,
      label: a.label,
      run: { method: r.method, augment: a.augment },
    })),
  })),
  claim: {
    text: 'For every augmentation: BSCE+NCL++ > BSCE > CE, and the ensemble adds more.',
    checks: AUGMENTATIONS.flatMap(({ label }): Check[] => [
      greater(cellName('BSCE+NCL++', label), cellName('BSCE', label)),
      greater(cellName('BSCE', label), cellName('CE', label)),
      greater(cellName('BSCE+NCL++ (ensemble)', label), cellName('BSCE+NCL++', label)),
    ]),
  },
  table: (m, ctx) =>
    [
      `| method | ${AUGMENTATIONS.map((a) => a.label).join(' | ')} | paper (CIFAR-100-LT IF 100) |`,
      '|---|---|---|---|---|',
      ...TABLE4_ROWS.map(
        (r) =>
          `| ${r.name} | ${AUGMENTATIONS.map((a) => meanStd(m.at(a.label, r.name))).join(' | ')} | ${PAPER_TABLE4[r.name].map((x) => x.toFixed(2)).join(' / ')} |`,
      ),
      '',
      `Here: ${ctx.protocol}, mean ± std over seeds ${ctx.seeds.join(', ')}. Paper: SimAug / RandAug / Mixup.`,
    ].join('\n'),
});

const TABLE6_LEARNABLE = variantRun('nclpp-learnable', { trainAccuracy: true });
/** The learnable runs' final (λ_intra, λ_inter) = softmax(w_intra, w_inter) per seed (null: not recorded). */
function learnedWeights(ctx: FigureContext) {
  const learned = runsOf(ctx, TABLE6_LEARNABLE).map((r) => learnedLambdas(r.metrics.lossVariables));
  const text = learned
    .map((l, i) =>
      l
        ? `seed ${ctx.seeds[i]} (${l.lambdaIntra.toFixed(2)}, ${l.lambdaInter.toFixed(2)})`
        : `seed ${ctx.seeds[i]} not recorded`,
    )
    .join(', ');
  return { learned, text };
}
const table6 = comparisonFigure({
  id: 'table6',
  title: 'Table 6: fixed vs learnable loss weights, train and test accuracy',
  plot: { kind: 'bars', title: 'Fixed vs learnable loss weights (expert 1)' },
  series: [
    { name: 'fixed', run: variantRun('nclpp', { trainAccuracy: true }) },
    { name: 'learnable', run: TABLE6_LEARNABLE },
  ].map((s) => ({
    name: s.name,
    metric: EXPERT1,
    points: [
      { x: 'train set', label: 'train set', run: s.run, metric: { ...EXPERT1, set: 'train' as const } },
      { x: 'test set', label: 'test set', run: s.run },
    ],
  })),
  claim: {
    text: 'Learnable weights fit the training set better but test slightly worse than fixed weights.',
    checks: [
      greater(cellName('learnable', 'train set'), cellName('fixed', 'train set')),
      greater(cellName('fixed', 'test set'), cellName('learnable', 'test set')),
    ],
  },
  more: (_m, ctx) => {
    const { learned, text } = learnedWeights(ctx);
    return { data: { learned }, measured: `learned (λ_intra, λ_inter): ${text}` };
  },
  table: (m, ctx) => {
    const row = (name: 'fixed' | 'learnable', label: string) =>
      `| ${label} | ${meanStd(m.at('train set', name))} | ${meanStd(m.at('test set', name))} | ${PAPER_TABLE6[name].train} / ${PAPER_TABLE6[name].test} |`;
    return [
      '| method | acc. on train set | acc. on test set | paper (CIFAR-100-LT IF 100): train / test |',
      '|---|---|---|---|',
      row('fixed', 'Fixed (λ1 = λ2 = λ)'),
      row('learnable', 'Learnable (softmax-normalised)'),
      '',
      `Learned (λ_intra, λ_inter) at the end of training: ${learnedWeights(ctx).text}.`,
    ].join('\n');
  },
});

/** Table 7's rows: each variant's expert 1, then NCL++'s ensemble. */
const TABLE7_ENSEMBLE = 'NCL++ (ensemble)';
function table7Label(name: VariantName): string {
  const c = variantComponents(EXPERIMENT_VARIANTS[name], { experts: 2, copies: 2 });
  if (!c.bil) return 'naive (CE)';
  if (c.interCL && c.intraCL && c.nestedHard) return 'NCL++';
  const parts = [c.nestedHard && 'NFL_hard', c.interCL && 'InterCL', c.intraCL && 'IntraCL'].filter(Boolean);
  return ['BIL', ...parts].join(' + ');
}
/** Table 7's compute-matched control (not in the paper): BIL on the T copies NCL++ trains on, no KL, no mining. */
const TABLE7_COPIES = 'BIL, T copies';
const table7Points: (Point & { variant: VariantName; ensemble: boolean; copiesOnly?: boolean })[] = [
  ...TABLE7_ROWS.map((v) => ({
    x: table7Label(v),
    label: table7Label(v),
    run: variantRun(v),
    variant: v,
    ensemble: false,
  })),
  {
    x: TABLE7_ENSEMBLE,
    label: TABLE7_ENSEMBLE,
    run: variantRun('nclpp'),
    metric: ENSEMBLE,
    variant: 'nclpp',
    ensemble: true,
  },
];
table7Points.splice(2, 0, {
  x: TABLE7_COPIES,
  label: TABLE7_COPIES,
  run: { method: 'bsce', protocolCopies: true },
  variant: 'bil',
  ensemble: false,
  copiesOnly: true,
});
const table7 = comparisonFigure({
  id: 'table7',
  title: 'Table 7: ablation of BIL, InterCL, IntraCL, NFL_hard and the ensemble, with BIL on T copies',
  plot: { kind: 'bars', title: 'Ablation (Table 7)' },
  series: [{ name: 'expert 1', metric: EXPERT1, points: table7Points }],
  claim: {
    text:
      `Each component adds accuracy over BIL: NFL_hard, InterCL, IntraCL, both, all, then the ensemble (${PAPER_TABLE7.ce} → ${PAPER_TABLE7.ensemble}). ` +
      "Checked here also against BIL on NCL++'s T copies (a control the paper does not run).",
    checks: [
      greater('BIL', 'naive (CE)'),
      ...table7Points
        .filter((p) => !p.copiesOnly && p.variant !== 'ce' && p.variant !== 'bil')
        .map((p) => greater(p.label, 'BIL')),
      greater('NCL++', TABLE7_COPIES),
    ],
  },
  table: (m, ctx) => {
    const p = getProtocol(ctx.protocol, 'nclpp');
    const mark = (b: boolean) => (b ? '✓' : '');
    return [
      '| BIL | InterCL | IntraCL | NFL_hard | Ensemble | acc. (here) | acc. (paper) |',
      '|---|---|---|---|---|---|---|',
      ...table7Points.map((row) => {
        const c = variantComponents(EXPERIMENT_VARIANTS[row.variant], {
          experts: p.model.numExperts,
          copies: p.loss.numCopies,
        });
        const paper = row.copiesOnly ? '–' : PAPER_TABLE7[row.ensemble ? 'ensemble' : row.variant].toFixed(2);
        const bil = row.copiesOnly ? `✓ (T = ${p.loss.numCopies} copies)` : mark(c.bil);
        return `| ${bil} | ${mark(c.interCL)} | ${mark(c.intraCL)} | ${mark(c.nestedHard)} | ${mark(row.ensemble)} | ${meanStd(m.at(row.label))} | ${paper} |`;
      }),
      '',
      `Here: ${ctx.protocol}, mean ± std over seeds ${ctx.seeds.join(', ')}, single-expert rows report expert 1. Paper: CIFAR-100-LT IF 100.`,
    ].join('\n');
  },
});

const TABLE8_METHODS = ['ce', 'ncl', 'nclpp'];
const table8 = comparisonFigure({
  id: 'table8',
  title: 'Table 8: the balanced dataset (the full training set, IF 1): CE, NCL, NCL++',
  plot: { kind: 'bars', title: 'Balanced training set (expert 1)' },
  series: [
    {
      name: 'expert 1',
      metric: EXPERT1,
      points: TABLE8_METHODS.map((m) => ({
        x: methodLabel(m),
        label: methodLabel(m),
        run: { method: m, imbalanceFactor: 1 },
      })),
    },
  ],
  claim: {
    text: `On a balanced dataset NCL++ still beats CE (+${(PAPER_TABLE8['NCL++'] - PAPER_TABLE8.CE).toFixed(1)}% on CIFAR-100 with ResNet-32) and NCL.`,
    checks: [greater('NCL++', 'CE'), greater('NCL++', 'NCL')],
  },
  table: (m, ctx) =>
    [
      `| method | full ${getProtocol(ctx.protocol, 'nclpp').data.dataset} (here, expert 1) | CIFAR-100 ResNet-32 (paper) |`,
      '|---|---|---|',
      ...(['CE', 'NCL', 'NCL++'] as const).map((l) => `| ${l} | ${meanStd(m.at(l))} | ${PAPER_TABLE8[l]} |`),
    ].join('\n'),
});

const shareLabel = (share: number) => `${Math.round(share * 100)}%`;
const paperGains = PAPER_TABLE9.map((r) => r.nclpp - r.bsce);
const table9 = comparisonFigure({
  id: 'table9',
  title: 'Table 9: 20 / 40 / 60 / 80 / 100 % of the training data, BSCE vs NCL++',
  plot: { kind: 'lines', title: 'Training data ratio', xTitle: 'fraction of the LT training set' },
  series: ['bsce', 'nclpp'].map((method) => ({
    name: method === 'bsce' ? 'BSCE' : 'NCL++ (expert 1)',
    metric: EXPERT1,
    points: PAPER_TABLE9.map(({ share }) => ({
      x: shareLabel(share),
      label: shareLabel(share),
      run: { method, dataShare: share },
    })),
  })),
  claim: {
    text: `Accuracy grows with data, and NCL++ beats BSCE at every ratio (+${Math.min(...paperGains).toFixed(1)} to +${Math.max(...paperGains).toFixed(1)}).`,
    checks: [
      ...['BSCE', 'NCL++ (expert 1)'].map((s) => greater(cellName(s, '100%'), cellName(s, '20%'))),
      ...PAPER_TABLE9.map(({ share }) =>
        greater(cellName('NCL++ (expert 1)', shareLabel(share)), cellName('BSCE', shareLabel(share))),
      ),
    ],
  },
  table: (m) =>
    [
      '| data ratio | BSCE (here) | NCL++ (here) | gain | paper BSCE / NCL++ (ImageNet-LT, ResNet-10) |',
      '|---|---|---|---|---|',
      ...PAPER_TABLE9.map((r) => {
        const [b, n] = [m.at(shareLabel(r.share), 'BSCE'), m.at(shareLabel(r.share), 'NCL++ (expert 1)')];
        return `| ${shareLabel(r.share)} | ${meanStd(b)} | ${meanStd(n)} | ${(100 * (n.mean - b.mean)).toFixed(2)} | ${r.bsce.toFixed(2)} / ${r.nclpp.toFixed(2)} |`;
      }),
    ].join('\n'),
});

export const SWEEP_FIGURES: FigureSpec[] = [
  fig5a,
  fig5b,
  fig6a,
  fig6b,
  fig7,
  fig12a,
  fig12b,
  table4,
  table6,
  table7,
  table8,
  table9,
];
