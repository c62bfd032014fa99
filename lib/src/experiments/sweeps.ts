/** The sweeps and ablations of Sec. 4.4-4.5 (issue "Reproduce the paper's sweeps and ablations"): not yet built. */
import type { FigureSpec } from './figures';

export const SWEEP_FIGURES: FigureSpec[] = [];
