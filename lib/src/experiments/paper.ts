/**
 * The paper's own numbers (NCL++, Pattern Recognition 147, 2024), as printed, for side-by-side tables.
 * All on the paper's GPU protocol (ResNet-32, 400 epochs, RandAugment, K = 2, T = 4) unless noted.
 */
export const PAPER_TABLE1 = {
  protocol: 'paper-cifar*-lt (ResNet-32, 400 epochs, RandAugment, K=2, T=4; numbers from the paper)',
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

/** Table 5 (ImageNet-LT, ResNet-50): GFLOPs per image. */
export const PAPER_TABLE5 = [
  { method: 'NCM', train: 4.11, test: 4.11, acc: 44.3 },
  { method: 'NCL (3 experts)', train: 17.03, test: 4.11, acc: 57.4 },
  { method: 'NCL++ (2 experts)', train: 8.24, test: 4.11, acc: 58.0 },
];

/** Fig. 11b: many/few on CIFAR-100-LT IF 100 quoted in the text. */
export const PAPER_FIG11B = { rideMany: 69.2, rideFew: 26.3, nclppFewSingle: 38.7 };
