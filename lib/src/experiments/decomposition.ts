/**
 * The decomposition study: where NCL++'s gain over BSCE comes from. Five arms, each adding one part of NCL++ to the
 * one before, trained on the same seeds (same long-tailed subset, batch order and expert-1 initial weights), so each
 * step is a paired comparison; read on expert 1, the network every arm has:
 *
 *   (A) BSCE, T = 1                          the balanced baseline (Eq. 2-3)
 *   (B) BSCE on T = 2 augmented copies       + the copies: 2× the forward/backward passes of A
 *   (C) NCL++ at λ = 0 (K = 2, T = 2)        + hard-category mining (NFL_hard, Eq. 7-10), no KL term
 *   (D) IntraCL only (K = 1, T = 2, λ = 0.6) + the KL term between copies (Eq. 11-13), one expert
 *   (E) NCL++ (K = 2, T = 2, λ = 0.6)        + InterCL between experts (Eq. 4-6): the full method
 *
 * and the compute-matched control of B: BSCE with T = 1 trained 2× the epochs (as many passes as B). Each arm runs at
 * the protocol's schedule and at 3× it, to see whether the answer depends on how long the networks train.
 */
import type { RunSpec } from './spec';

export interface Arm {
  key: 'A' | 'B' | 'C' | 'D' | 'E' | 'A2';
  label: string;
  run: RunSpec;
}

/** The arms, in the order each adds one part; `A2` is B's compute-matched control (not a step of the chain). */
export const DECOMPOSITION_ARMS: Arm[] = [
  { key: 'A', label: 'BSCE', run: { method: 'bsce' } },
  { key: 'B', label: 'BSCE, T = 2 copies', run: { method: 'bsce', copies: 2 } },
  { key: 'C', label: 'NCL++ λ = 0', run: { method: 'nclpp', lambda: 0 } },
  { key: 'D', label: 'IntraCL only (K = 1)', run: { method: 'nclpp', experts: 1 } },
  { key: 'E', label: 'NCL++', run: { method: 'nclpp' } },
  { key: 'A2', label: 'BSCE, 2× epochs', run: { method: 'bsce', epochScale: 2 } },
];

/** The training lengths, as multiples of the protocol's epochs (mini: 20 and 60 epochs). */
export const DECOMPOSITION_SCALES = [1, 3];

/** An arm's run at `scale` × the protocol's epochs. */
export function armRun(arm: Arm, scale: number): RunSpec {
  const base = arm.run.epochScale ?? 1;
  return { ...arm.run, ...(base * scale !== 1 ? { epochScale: base * scale } : {}) };
}
