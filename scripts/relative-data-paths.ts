/**
 * Rewrite the `data` paths of finished runs' metrics.json to what the trainer records now (lib/src/train/data.ts
 * `recordedSource`): `data/fashion-mnist` instead of `/work/run-snap/data/fashion-mnist`, so that committed runs
 * name no machine's folders. Nothing else in the file changes (the run's key, numbers and formatting stay).
 *
 *   npx tsx scripts/relative-data-paths.ts [FOLDER ...]     (default: every run under results/runs)
 *
 * Prints each file rewritten; exits 1 naming a file it cannot read as a run's metrics.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicWrite } from '../lib/src/atomic';
import { sourceOf, type DatasetName } from '../lib/src/data';
import { recordedSource } from '../lib/src/train/data';
import { readMetricsFile } from '../lib/src/train/files';

/** Every metrics.json under `dir`. */
function metricsFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => path.basename(f) === 'metrics.json')
    .map((f) => path.join(dir, f))
    .sort();
}

/** Rewrite `file`'s data paths when they are not as recorded now; true when it was rewritten. */
export function relativeDataPaths(file: string): boolean {
  const m = readMetricsFile(file);
  if (!m.data) return false;
  const now = recordedSource(m.data, sourceOf(m.config.data.dataset as DatasetName).dir);
  if (now.dir === m.data.dir && now.checksums === m.data.checksums) return false;
  // The two values replaced in the text, so that the rest of the file stays byte for byte.
  const original = fs.readFileSync(file, 'utf8');
  let text = original;
  for (const [from, to] of [
    [m.data.dir, now.dir],
    [m.data.checksums, now.checksums],
  ] as const)
    if (from !== to) text = text.split(JSON.stringify(from)).join(JSON.stringify(to));
  const raw = JSON.parse(original) as Record<string, unknown>;
  const expected = { ...raw, data: { ...(raw.data as object), ...now } };
  if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(expected))
    throw new Error(`${file}: its data paths also appear elsewhere in it; not rewritten`);
  atomicWrite(file, text);
  return true;
}

if (require.main === module) {
  const folders = process.argv.slice(2);
  const files = (folders.length ? folders : [path.join(__dirname, '..', 'results', 'runs')]).flatMap(
    metricsFiles,
  );
  try {
    let n = 0;
    for (const f of files) {
      if (!relativeDataPaths(f)) continue;
      console.log(`rewritten: ${path.relative(process.cwd(), f)}`);
      n++;
    }
    console.log(`${n} of ${files.length} metrics.json rewritten`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
}
