/**
 * Methods from files: `ncl train --method ./methods/focal.ts`, `--method focal` (methods/focal.ts of the working
 * directory or of the workspace), `compare('./methods/focal.ts', ...)`, and every config whose `methodSource` names a
 * file (a worker process loads the method from it before it parses the config).
 *
 * The file is bundled by esbuild (TypeScript, with the files it imports relatively; packages stay imports) and run
 * as a CommonJS module in which `import ... from 'ncl-lab'` is this very lib: one registry, one tf engine. Its default
 * export (or an export named `method`) is the method, a `defineMethod` spec. Its content hash covers the file and
 * every file it imports relatively, so editing any of them makes a new method version with new run keys.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import NodeModule from 'node:module';
import { workspaceRoot } from '../data/locate';
import { unknownMethodMessage } from './registry';
import {
  defineMethod,
  findMethod,
  methodNames,
  registerMethod,
  type Method,
  type MethodSource,
  type MethodSpec,
} from './methods';

/** A file as a config records it: relative to the workspace root (forward slashes) when inside it, else absolute. */
export function recordedPath(file: string): string {
  const abs = path.resolve(file);
  const root = workspaceRoot();
  const rel = root ? path.relative(root, abs) : '';
  return root && rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : abs;
}

/** The file a config's `methodSource.file` names, on this machine. */
export function recordedFile(file: string): string {
  return path.isAbsolute(file) ? file : path.join(workspaceRoot() ?? process.cwd(), file);
}

interface Bundle {
  code: string;
  /** sha256 over the bundled files: each one's path relative to the entry's folder and the sha256 of its bytes. */
  sha256: string;
}

/** Bundle `file` (absolute) with esbuild: the code to run and the content hash of every file it includes. */
function bundle(file: string): Bundle {
  const esbuild = require('esbuild') as typeof import('esbuild');
  const dir = path.dirname(file);
  let r: import('esbuild').BuildResult<{ write: false; metafile: true }>;
  try {
    r = esbuild.buildSync({
      entryPoints: [file],
      absWorkingDir: dir,
      bundle: true,
      write: false,
      metafile: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      sourcemap: 'inline',
      logLevel: 'silent',
    });
  } catch (e) {
    const first = (e as { errors?: import('esbuild').Message[] }).errors?.[0];
    const at = first?.location
      ? `${first.location.file}:${first.location.line}:${first.location.column}: `
      : '';
    throw new Error(`${displayed(file)}: ${at}${first?.text ?? (e as Error).message.split('\n')[0]}`);
  }
  const inputs = Object.keys(r.metafile.inputs).sort();
  const h = createHash('sha256');
  for (const rel of inputs) {
    const bytes = fs.readFileSync(path.resolve(dir, rel));
    h.update(`${rel.split(path.sep).join('/')}\0${createHash('sha256').update(bytes).digest('hex')}\n`);
  }
  return { code: r.outputFiles[0].text, sha256: h.digest('hex') };
}

const displayed = (file: string) => {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
};

/** Run bundled CommonJS `code` as the module `file`, with 'ncl-lab' resolving to this lib. */
function runModule(code: string, file: string): Record<string, unknown> {
  const lib = require('../index') as unknown;
  type Internal = NodeModule & {
    _compile(code: string, filename: string): void;
  };
  const M = NodeModule as unknown as {
    new (id: string, parent?: NodeModule): Internal;
    _nodeModulePaths(dir: string): string[];
  };
  const m = new M(file, module);
  m.filename = file;
  m.paths = M._nodeModulePaths(path.dirname(file));
  const load = NodeModule.prototype.require;
  m.require = Object.assign(
    (id: string) => (id === 'ncl-lab' ? lib : load.call(m, id)),
    load,
  ) as NodeJS.Require;
  m._compile(code, file);
  return m.exports as Record<string, unknown>;
}

/**
 * Bundle and run a module file of the workspace (a method, or a figure: experiments/figure-file.ts), 'ncl-lab'
 * being this lib: its exports and content hash. One-line errors name the file: missing, not compiling, throwing.
 */
export function loadModuleFile(
  file: string,
  what: string,
): { exports: Record<string, unknown>; sha256: string } {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new Error(`${file}: no such ${what} file`);
  const { code, sha256 } = bundle(abs);
  try {
    return { exports: runModule(code, abs), sha256 };
  } catch (e) {
    throw new Error(`${displayed(abs)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * Load the method of a file and register it with its source (`{ file, sha256 }`), replacing an earlier version.
 * One-line errors name the file: missing, not compiling, throwing on import, or exporting no method.
 */
export function loadMethodFile(file: string): Method {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new Error(`${file}: no such method file`);
  const { code, sha256 } = bundle(abs);
  const source: MethodSource = { file: recordedPath(abs), sha256 };
  const known = findMethodBySource(source);
  if (known) return known;
  let exports: Record<string, unknown>;
  try {
    exports = runModule(code, abs);
  } catch (e) {
    throw new Error(`${displayed(abs)}: ${(e as Error).message.split('\n')[0]}`);
  }
  const spec = (exports.default ?? exports.method) as MethodSpec | undefined;
  if (!spec || typeof spec !== 'object')
    throw new Error(
      `${displayed(abs)}: exports no method (give it \`export default defineMethod({ name, label, options, loss })\`)`,
    );
  try {
    return registerMethod(defineMethod(spec), source);
  } catch (e) {
    throw new Error(`${displayed(abs)}: ${(e as Error).message}`);
  }
}

function findMethodBySource(source: MethodSource): Method | null {
  for (const name of methodNames()) {
    const m = findMethod(name)!;
    if (m.source?.file === source.file && m.source.sha256 === source.sha256) return m;
  }
  return null;
}

/** Whether `s` names a file rather than a registered method (a path, or a name ending in .ts / .js / .mts ...). */
export function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes(path.sep) || /\.[cm]?[jt]s$/.test(s);
}

/** methods/<name>.ts (or .js) of the working directory, else of the workspace; null when there is none. */
export function workspaceMethodFile(name: string): string | null {
  if (!/^[\w.+-]+$/.test(name)) return null;
  const roots = [process.cwd(), workspaceRoot()].filter((r): r is string => r !== null);
  for (const root of roots)
    for (const ext of ['.ts', '.mts', '.js'])
      if (fs.existsSync(path.join(root, 'methods', name + ext)))
        return path.join(root, 'methods', name + ext);
  return null;
}

/**
 * The method `what` names: a registered name; else a method file (a path: loaded afresh, so an edited file is a new
 * version); else methods/<what>.ts of the working directory or workspace. An error naming the registered methods
 * otherwise.
 */
export function resolveMethod(what: string): Method {
  if (looksLikePath(what)) return loadMethodFile(what);
  const known = findMethod(what);
  if (known) return known;
  const file = workspaceMethodFile(what);
  if (!file) throw new Error(unknownMethodMessage(what));
  const m = loadMethodFile(file);
  if (m.name !== what) throw new Error(`${displayed(file)}: defines method '${m.name}', not '${what}'`);
  return m;
}

/**
 * The method a config names (`method`, and `methodSource` when it is not one of the lib's own): registered with
 * that source, or loaded from the source's file (whose hash must still be the recorded one). Errors say which.
 */
export function methodOfConfig(name: string, source: MethodSource | undefined): Method {
  const known = findMethod(name);
  if (!source) return known ?? resolveMethod(name);
  if (known?.source && known.source.file === source.file && known.source.sha256 === source.sha256)
    return known;
  if (known && !known.source)
    throw new Error(`'${name}' is one of the lib's own methods: a config of it has no methodSource`);
  if (source.file === null)
    throw new Error(
      `method '${name}' was registered in another process (a notebook?) and has no file to load it from: ` +
        `train it in that process, or put it in a file (methods/${name}.ts)`,
    );
  const file = recordedFile(source.file);
  const loaded = loadMethodFile(file);
  if (loaded.name !== name) throw new Error(`${source.file}: defines method '${loaded.name}', not '${name}'`);
  if (loaded.source!.sha256 !== source.sha256)
    throw new Error(
      `${source.file} has changed since this config was written (content ${loaded.source!.sha256.slice(0, 12)}, ` +
        `the config's ${source.sha256.slice(0, 12)}): its runs are of the old version`,
    );
  return loaded;
}
