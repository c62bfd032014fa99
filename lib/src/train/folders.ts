/**
 * Creating a run's or a sweep's folder with a one-line error naming the path at fault (a FileWriteError, ../atomic.ts):
 * `makeFolder` creates a folder level by level, so that the level that fails is the one named (Node's recursive
 * mkdir reports a read-only parent as ENOENT on the child, and a file in the way as EEXIST).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileWriteError, ioError } from '../atomic';

/** A file where folder `p` should be. */
const fileInTheWay = (p: string) => new FileWriteError(p, 'ENOTDIR', `${p}: is a file, not a folder`);

/**
 * Make sure folder `dir` exists, creating the missing levels one by one. Writes nothing when it exists (a read-only
 * folder that exists is fine). Throws a FileWriteError naming the level that cannot be created, or the file in the way.
 */
export function makeFolder(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw ioError(e, p, 'cannot read'); // else: a file above, found next
    }
    if (st && !st.isDirectory()) throw fileInTheWay(p);
    if (st) break;
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      fs.mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        if (fs.statSync(p).isDirectory()) continue; // made meanwhile by another process
        throw fileInTheWay(p);
      }
      throw ioError(e, p, 'cannot create folder');
    }
  }
}
