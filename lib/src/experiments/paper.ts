/**
 * The paper's own numbers (NCL++, Pattern Recognition 147, 2024), as printed: every number a figure, table, claim or
 * README quotes from the paper comes from here. Top-1 in %, on the paper's GPU protocol (ResNet-32, 400 epochs,
 * RandAugment, K = 2, T = 4) unless noted.
 */

/** The paper's CIFAR protocol, as the tables name it. */
export const PAPER_PROTOCOL =
  'paper-cifar*-lt (ResNet-32, 400 epochs, RandAugment, K=2, T=4; numbers from the paper)';

/** Table 1: CIFAR-100-LT and CIFAR-10-LT at IF 100 and 50. */
export const PAPER_TABLE1 = {
  protocol: PAPER_PROTOCOL,
  rows: [
    { method: 'BSCE (baseline)', cifar100: { 100: 50.6, 50: 55.0 }, cifar10: { 100: 84.0, 50: 85.8 } },
    { method: 'NCL', cifar100: { 100: 53.3, 50: 56.8 }, cifar10: { 100: 84.7, 50: 86.8 } },
    { method: 'NCL++ (single expert)', cifar100: { 100: 54.8, 50: 58.2 }, cifar10: { 100: 86.1, 50: 88.0 } },
    {
      method: 'NCL++ (ensemble, 2 experts)',
      cifar100: { 100: 56.3, 50: 59.8 },
      cifar10: { 100: 87.2, 50: 88.8 },
    },
  ],
  /** CE on CIFAR-100-LT IF 100 with RandAugment (Table 4 / Table 7 naive row). */
  ceCifar100IF100: 44.79,
};

/** Table 4 (CIFAR-100-LT IF 100): SimAug / RandAugment / Mixup per method. */
export const PAPER_TABLE4: Record<'CE' | 'BSCE' | 'BSCE+NCL++' | 'BSCE+NCL++ (ensemble)', number[]> = {
  CE: [41.68, 44.79, 41.85],
  BSCE: [45.69, 50.6, 49.84],
  'BSCE+NCL++': [48.76, 54.82, 51.37],
  'BSCE+NCL++ (ensemble)': [51.57, 56.33, 53.38],
};

/** Table 5 (ImageNet-LT, ResNet-50): GFLOPs per image. */
export const PAPER_TABLE5 = [
  { method: 'NCM', train: 4.11, test: 4.11, acc: 44.3 },
  { method: 'NCL (3 experts)', train: 17.03, test: 4.11, acc: 57.4 },
  { method: 'NCL++ (2 experts)', train: 8.24, test: 4.11, acc: 58.0 },
];

/** Table 6 (CIFAR-100-LT IF 100): fixed vs learnable loss weights, accuracy on the train and test sets. */
export const PAPER_TABLE6 = { fixed: { train: 76.7, test: 54.8 }, learnable: { train: 82.3, test: 54.5 } };

/** Table 7 (CIFAR-100-LT IF 100), by `losses.TABLE7_ROWS` variant name; `ensemble`: the last row. */
export const PAPER_TABLE7: Record<string, number> = {
  ce: 44.79,
  bil: 50.6,
  'bil+nfl': 51.24,
  'bil+inter': 53.13,
  'bil+intra': 53.94,
  'bil+inter+intra': 54.36,
  nclpp: 54.82,
  ensemble: 56.33,
};

/** Table 8: balanced CIFAR-100, ResNet-32. */
export const PAPER_TABLE8 = { CE: 73.68, NCL: 74.24, 'NCL++': 76.88 };

/** Table 9 (ImageNet-LT, ResNet-10): share of the training data → BSCE and NCL++. */
export const PAPER_TABLE9 = [
  { share: 0.2, bsce: 40.64, nclpp: 44.24 },
  { share: 0.4, bsce: 44.04, nclpp: 47.93 },
  { share: 0.6, bsce: 44.66, nclpp: 48.05 },
  { share: 0.8, bsce: 44.91, nclpp: 48.7 },
  { share: 1, bsce: 45.7, nclpp: 49.0 },
];

/** The best point of each sweep (Figs. 5a, 5b, 6a). */
export const PAPER_BEST = { beta: 0.3, lambda: 0.6, copies: 4 };

/** Fig. 11b: many / few on CIFAR-100-LT IF 100 quoted in the text. */
export const PAPER_FIG11B = { rideMany: 69.2, rideFew: 26.3, nclppFewSingle: 38.7 };

/** Fig. 12, as the text reads it: what each change costs (points). */
export const PAPER_FIG12 = { unbalancedInterCost: 1, offDisBelowInterCL: 1.5 };

/** Fig. 1: images in CIFAR-100-LT at IF 100. */
export const PAPER_FIG1 = { cifar100LtImages: 10847 };
