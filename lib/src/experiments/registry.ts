/**
 * The registry of figures: every figure and table `ncl reproduce` builds, by id, in the paper's order, and the figures
 * of your own registered in this process (`registerFigure`). `reproduce`, `buildFigure`, `planRuns` and `showFigure`
 * take an id or a `FigureSpec` itself (e.g. `comparisonFigure({...})`, `comparisonSpec(method, { against })`).
 */
import { ANALYSIS_FIGURES } from './figures';
import { SWEEP_FIGURES } from './sweeps';
import { TWIN } from './twin';
import { DECOMPOSITION_FIGURES } from './decomposition';
import type { FigureSpec } from './spec';

/** Every figure and table, in the paper's order, then the PyTorch twin and the decomposition study. */
export const FIGURES: FigureSpec[] = [...ANALYSIS_FIGURES, ...SWEEP_FIGURES, TWIN, ...DECOMPOSITION_FIGURES];
export const FIGURE_IDS = FIGURES.map((f) => f.id);

/** A figure as `reproduce`, `buildFigure` and `showFigure` take it: an id, or the spec itself. */
export type FigureRef = string | FigureSpec;

const registered = new Map<string, FigureSpec>();

/**
 * Add a figure of your own under its id, so that `reproduce([id])`, `buildFigure(id)` and `showFigure(id)` find it
 * in this process (registering an id again replaces it). The lib's own ids are refused.
 */
export function registerFigure(spec: FigureSpec): FigureSpec {
  if (FIGURE_IDS.includes(spec.id))
    throw new Error(`figure '${spec.id}' is one of the lib's own: give yours another id`);
  registered.set(spec.id, spec);
  return spec;
}

/**
 * Resolve ids (or specs) in the order given, each once ('all' = every figure of the lib, in the paper's order, then
 * the specs given); unknown ids are an error naming them. The order is the order `reproduce` trains and builds them
 * in.
 */
export function resolveIds(ids: FigureRef[]): FigureSpec[] {
  const find = (id: string) => FIGURES.find((f) => f.id === id) ?? registered.get(id);
  const unknown = ids.filter((id): id is string => typeof id === 'string' && id !== 'all' && !find(id));
  if (unknown.length)
    throw new Error(
      `unknown figure id(s) ${unknown.join(', ')}; known: ${[...FIGURE_IDS, ...registered.keys()].join(', ')}, all`,
    );
  const specs = ids.includes('all')
    ? [...FIGURES, ...ids.filter((id): id is FigureSpec => typeof id !== 'string')]
    : ids.map((id) => (typeof id === 'string' ? find(id)! : id));
  const byId = new Map<string, FigureSpec>();
  for (const s of specs) if (!byId.has(s.id)) byId.set(s.id, s);
  return [...byId.values()];
}
