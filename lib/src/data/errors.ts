/**
 * Data errors: one line, naming the file (or dataset) and what is wrong with it, e.g.
 *   `data/fashion-mnist/train-images-idx3-ubyte.gz: truncated IDX file (expected 47040016 bytes of pixels, got 1000)`
 * The CLI prints `message` alone and exits 1 for a `DataError`; anything else is a bug and keeps its stack.
 */
import * as path from 'node:path';

export class DataError extends Error {
  /** The file the error is about, when there is one (absolute or as given). */
  readonly file: string | undefined;
  constructor(message: string, file?: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'DataError';
    this.file = file;
  }
}

/** `file` as the user would type it: relative to the cwd when it is below it, else absolute. */
export function displayPath(file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** A `DataError` about `file`: `<file>: <problem>`. */
export function fileError(file: string, problem: string): DataError {
  return new DataError(`${displayPath(file)}: ${problem}`, file);
}
