/**
 * The registry of figures: every figure and table `ncl reproduce` builds, by id, in the paper's order.
 */
import { ANALYSIS_FIGURES } from './figures';
import { SWEEP_FIGURES } from './sweeps';
import { TWIN } from './twin';
import { DECOMPOSITION_FIGURES } from './decomposition';
import type { FigureSpec } from './spec';

/** Every figure and table, in the paper's order, then the PyTorch twin and the decomposition study. */
export const FIGURES: FigureSpec[] = [...ANALYSIS_FIGURES, ...SWEEP_FIGURES, TWIN, ...DECOMPOSITION_FIGURES];
export const FIGURE_IDS = FIGURES.map((f) => f.id);

/**
 * Resolve ids in the order given, each once ('all' = every figure, in the paper's order); unknown ids are an error
 * naming them. The order is the order `reproduce` trains and builds them in.
 */
export function resolveIds(ids: string[]): FigureSpec[] {
  if (ids.includes('all')) return FIGURES;
  const unknown = ids.filter((id) => !FIGURE_IDS.includes(id));
  if (unknown.length)
    throw new Error(`unknown figure id(s) ${unknown.join(', ')}; known: ${FIGURE_IDS.join(', ')}, all`);
  return [...new Set(ids)].map((id) => FIGURES.find((f) => f.id === id)!);
}
