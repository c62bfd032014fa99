/**
 * `showFigure`: what a notebook calls to show a figure.
 *   - `showFigure('fig8')`: one of the paper's figures or tables (`experiments.FIGURE_IDS`), built from its runs, shown
 *     with the paper's claim, what we measured and the verdict. Under the `mini` protocol (the default) the runs are
 *     the committed ones in results/ and the figure is checked against what `ncl reproduce` wrote there
 *     (results/manifest.json and results/<id>.json): the printed numbers are the manifest's. Under `smoke` (CI)
 *     the missing runs are trained first, into .scratch/results-smoke.
 *   - `showFigure(spec)`: a figure of your own, a `FigureSpec` (e.g. `experiments.comparisonFigure({...})` or
 *     `experiments.comparisonSpec(method, { against })`), or the id it was registered under
 *     (`experiments.registerFigure`): built from its runs like the paper's (trained first under `smoke`).
 *   - `showFigure(fig)`: a Plotly figure spec built by the notebook (e.g. with `viz.classSizesFigure`).
 * It sits above viz/ (Plotly figures, the notebook display) and experiments/ (figures built from runs) and imports
 * both; neither imports it (test/imports.test.ts keeps the lib free of import cycles).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { workspaceRoot } from './data/locate';
import { buildFigure, entryStatus, planRuns, readManifest, ManifestEntry } from './experiments/reproduce';
import { readFigureData } from './experiments/files';
import { DEFAULT_PROTOCOL, DEFAULT_SEEDS, type FigureOutput, type FigureSpec } from './experiments/spec';
import { Figure, show, ShowOptions, tslabDisplay } from './viz';

export interface ShowFigureOptions extends ShowOptions {
  /** Protocol of the runs; default `$NCL_PROTOCOL`, else 'mini'. */
  protocol?: string;
  /** Seeds; default: the manifest entry's, else 1 for smoke and 3 otherwise. */
  seeds?: number;
  /** Results folder; default: the workspace's results/ (smoke: .scratch/results-smoke). */
  resultsDir?: string;
  /** Train the missing runs first; default: only under the smoke protocol. */
  train?: boolean;
  /**
   * Throw instead of printing a note when the runs give other numbers than results/ holds, or a figure has no
   * runs (for `npm run notebooks:render`); default: `$NCL_NB_STRICT` is '1'. A stale entry whose new runs are still
   * being trained is not an error: one line says so, in either mode.
   */
  strict?: boolean;
  /** Where the text goes (default console.log: the cell's output in a notebook). */
  log?: (line: string) => void;
}

/** A paper figure as shown: what `experiments.buildFigure` gives, and the manifest entry it was checked against. */
export interface ShownFigure extends FigureOutput {
  id: string;
  protocol: string;
  seeds: number;
  resultsDir: string;
  entry: ManifestEntry | null;
}

/** `data-*` attributes of a paper figure's div: which figure and results it shows (the notebooks test reads them). */
export const FIGURE_ATTR = 'ncl-figure';
export const PROTOCOL_ATTR = 'ncl-protocol';
export const DATA_ATTR = 'ncl-data';

/** sha256 of a file's bytes, as 'sha256:<hex>'. */
export function fileDigest(file: string): string {
  return 'sha256:' + createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

let shown = 0;

export function showFigure(id: string | FigureSpec, opts?: ShowFigureOptions): Promise<ShownFigure | null>;
export function showFigure(fig: Figure, opts?: ShowOptions): Promise<null>;
export async function showFigure(
  what: string | FigureSpec | Figure,
  opts: ShowFigureOptions = {},
): Promise<ShownFigure | null> {
  if (typeof what !== 'string' && !('build' in what)) {
    show(what, { ...opts, id: opts.id ?? `ncl-plot-${++shown}` });
    return null;
  }
  const id = typeof what === 'string' ? what : what.id;
  const log = opts.log ?? ((line: string) => console.log(line));
  const protocol = opts.protocol ?? process.env.NCL_PROTOCOL ?? DEFAULT_PROTOCOL;
  const smoke = protocol === 'smoke';
  const root = workspaceRoot() ?? process.cwd();
  const resultsDir = path.resolve(
    opts.resultsDir ?? path.join(root, smoke ? '.scratch/results-smoke' : 'results'),
  );
  const train = opts.train ?? smoke;
  const strict = opts.strict ?? process.env.NCL_NB_STRICT === '1';
  const rel = (p: string) => path.relative(root, p) || '.';
  const entry = train
    ? null
    : (readManifest(resultsDir).figures.find((f) => f.id === id && f.protocol === protocol) ?? null);
  const seeds = opts.seeds ?? entry?.seeds.length ?? (smoke ? 1 : DEFAULT_SEEDS);

  const t0 = Date.now();
  let out: FigureOutput;
  try {
    out = await buildFigure(what, {
      protocol,
      seeds,
      resultsDir,
      train,
      log: (line) => {
        if (line.includes('runs needed') && !line.includes(' 0 to train')) log(line);
      },
    });
  } catch (e) {
    const missing = !train && e instanceof Error && e.message.includes('ncl reproduce');
    // A stale entry (results/ holds a build from runs that the figure no longer trains) whose new runs are not all
    // finished is being re-run: said in one line, also in a strict render, so that a notebook shows it meanwhile.
    const status = missing && entry ? entryStatus(resultsDir, entry) : null;
    if (status?.stale) {
      log(
        `${id}: not shown: ${rel(resultsDir)} holds a build from runs that ${protocol} no longer trains (stale); ` +
          `${status.finished} of the ${status.needed} runs of today are finished; \`ncl reproduce ${id} ` +
          `--protocol ${protocol} --seeds ${seeds}\` rebuilds it (the last build: ${rel(resultsDir)}/README.md#${id})`,
      );
      return null;
    }
    if (missing && !entry && typeof what === 'string') {
      // Never built under this protocol, its runs still being trained: one line, also in a strict render.
      const plan = planRuns({ ids: [id], protocol, seeds, resultsDir });
      log(
        `${id}: not built yet: ${plan.filter((r) => r.cached).length} of the ${plan.length} runs of ${protocol} ` +
          `are finished; \`ncl reproduce ${id} --protocol ${protocol} --seeds ${seeds}\` builds it`,
      );
      return null;
    }
    if (!missing || strict) throw e;
    log(
      `${id}: the ${protocol} runs of this figure are not in ${rel(resultsDir)} yet (they are trained offline).`,
    );
    log((e as Error).message);
    return null;
  }

  // Under a committed protocol, what the runs give must be what `ncl reproduce` wrote: same data, same verdict.
  const notes: string[] = [];
  let digest = '';
  if (entry) {
    const dataFile = path.join(resultsDir, entry.data);
    digest = fileDigest(dataFile);
    const written = readFigureData(dataFile).data;
    if (JSON.stringify(written) !== JSON.stringify(out.data))
      notes.push(`the runs give other numbers than ${rel(dataFile)}`);
    if (entry.measured !== out.measured || entry.verdict !== out.verdict)
      notes.push(`the runs give "${out.measured}" (${out.verdict}), the manifest says "${entry.measured}"`);
    if (notes.length) {
      const msg =
        `${id}: ${notes.join('; ')}; rebuild it with \`ncl reproduce ${id} --protocol ${protocol} ` +
        `--seeds ${seeds}\``;
      if (strict) throw new Error(msg);
      notes.splice(0, notes.length, msg);
    }
  } else if (!train) {
    notes.push(
      `${id} (${protocol}) is not in ${rel(path.join(resultsDir, 'manifest.json'))} yet: built from the runs`,
    );
  }

  show(out.figure, {
    width: 950,
    height: 520,
    ...opts,
    id: opts.id ?? `ncl-plot-${id}-${++shown}`,
    attrs: {
      [FIGURE_ATTR]: id,
      [PROTOCOL_ATTR]: protocol,
      ...(entry ? { [DATA_ATTR]: `${entry.data} ${digest}` } : {}),
    },
  });
  log(`the paper: ${out.claim}`);
  log(`measured:  ${out.measured}`);
  log(`verdict:   ${out.verdict}`);
  if (out.reading) log(`in words:  ${out.reading}`);
  const s = seeds === 1 ? '' : 's';
  log(
    entry
      ? `from:      ${rel(path.join(resultsDir, entry.data))} (${protocol}: ${entry.settings}; ${entry.seeds.length} ` +
          `seed${s}, ${entry.runs.length} runs; built by \`ncl reproduce\` at commit ${entry.commit}, ` +
          `${entry.generated.slice(0, 10)})`
      : `from:      ${rel(resultsDir)} (${protocol}, ${seeds} seed${s}, built here in ` +
          `${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  for (const n of notes) log(`note:      ${n}`);
  if (out.table) tslabDisplay()?.markdown(out.table);
  return { ...out, id, protocol, seeds, resultsDir, entry };
}
