/**
 * Figures from files: `ncl reproduce ./figures/mine.ts` builds the figure a file exports (its default export, or an
 * export named `figure`): a `FigureSpec`, e.g. `experiments.comparisonSpec('focal', { against: ['bsce', 'nclpp'] })`
 * or `experiments.comparisonFigure({...})`. The file is loaded like a method file (losses/method-file.ts: bundled
 * with what it imports from the workspace, 'ncl-lab' being this lib) and registered under its id
 * (`registerFigure`).
 */
import * as path from 'node:path';
import { loadModuleFile } from '../losses/method-file';
import { registerFigure } from './registry';
import type { FigureSpec } from './spec';

/** The figure a file exports, registered under its id; a one-line error naming the file otherwise. */
export function loadFigureFile(file: string): FigureSpec {
  const { exports } = loadModuleFile(file, 'figure');
  const spec = (exports.default ?? exports.figure) as Partial<FigureSpec> | undefined;
  const name = path.relative(process.cwd(), path.resolve(file)) || file;
  if (
    !spec ||
    typeof spec.id !== 'string' ||
    typeof spec.runs !== 'function' ||
    typeof spec.build !== 'function'
  )
    throw new Error(
      `${name}: exports no figure (give it \`export default experiments.comparisonSpec(...)\` or another FigureSpec: ` +
        'id, title, runs, build)',
    );
  try {
    return registerFigure(spec as FigureSpec);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}
