/**
 * From command-line flags to a validated TrainConfig: the protocol's config for the method, then the shortcut
 * flags (--lambda, --epochs, ...), then every `--set key=value` (dotted path, JSON value or bare string).
 * Any invalid value is reported in one line naming the flag it came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { TrainConfig, formatConfigError } from '../train/config';
import { resolveMethod, type Method } from '../losses';
import { protocolConfig, PROTOCOL_NAMES } from '../train/protocols';

export class UsageError extends Error {}

/**
 * Upper bounds of the integer options, by flag: far above any real use, low enough that a slip (`--seeds 1e9`) is
 * refused before anything is allocated. Flags not listed: 2^31 - 1.
 */
export const INT_LIMITS: Record<string, number> = {
  seed: 2 ** 31 - 1,
  seeds: 100,
  workers: 256,
  classes: 10_000,
  batch: 65_536,
  width: 256,
  steps: 1_000_000,
  warmup: 100_000,
  experts: 64,
  copies: 64,
};

/**
 * An integer option, written in decimal digits (not '', '0x10', '1e3' or '1.0'), from `min` (1: positive, 0:
 * non-negative) to `max` (default `INT_LIMITS[flag]`); a UsageError naming the flag otherwise.
 */
export function intOption(
  raw: string,
  flag: string,
  min: 0 | 1 = 1,
  max = INT_LIMITS[flag] ?? 2 ** 31 - 1,
): number {
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min))
    throw new UsageError(`--${flag}: expected a ${min ? 'positive' : 'non-negative'} integer, got '${raw}'`);
  if (n > max) throw new UsageError(`--${flag}: at most ${max}, got ${raw}`);
  return n;
}

/**
 * A folder option (written into, or read from): a non-empty path that is not a file, below no file. '' would be the
 * working directory (`path.resolve('')`), so it is refused like any empty path; a UsageError naming the flag.
 */
export function folderOption(raw: unknown, flag: string): string {
  const p = pathOption(raw, flag);
  const full = path.resolve(p);
  for (let at = full; ; at = path.dirname(at)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(at, { throwIfNoEntry: false });
    } catch {
      st = undefined; // ENOTDIR: a file further up, found next
    }
    if (st && !st.isDirectory())
      throw new UsageError(`--${flag} ${p}: ${at === full ? '' : `${at} `}is a file, not a folder`);
    if (st || at === path.dirname(at)) return p;
  }
}

/** A path option (a file or folder): not empty; a UsageError naming the flag otherwise. */
export function pathOption(raw: unknown, flag: string): string {
  if (typeof raw !== 'string' || !raw.trim())
    throw new UsageError(`--${flag}: expected a path, got '${String(raw)}'`);
  return raw;
}

const Minutes = z.coerce.number().finite().positive();

/** `--time-limit`: a positive number of minutes; a UsageError naming the flag otherwise. */
export function minutesOption(raw: unknown): number {
  const r = Minutes.safeParse(raw);
  if (!r.success)
    throw new UsageError(`--time-limit: expected a positive number of minutes, got '${String(raw)}'`);
  return r.data;
}

/** The method `--method` names (a registered name, a file, or NAME for methods/NAME.ts); a UsageError otherwise. */
export function methodOption(what: string): Method {
  try {
    return resolveMethod(what);
  } catch (e) {
    throw new UsageError(`--method: ${(e as Error).message}`);
  }
}

/** A protocol name; a UsageError listing the known ones otherwise. */
export function protocolOption(name: string): string {
  if (!PROTOCOL_NAMES.includes(name))
    throw new UsageError(`--protocol: unknown protocol '${name}'; use one of ${PROTOCOL_NAMES.join(', ')}`);
  return name;
}

/** Shortcut flags and the config path each sets. */
export const SHORTCUTS: Record<string, string> = {
  dataset: 'data.dataset',
  imbalance: 'data.imbalanceFactor',
  batch: 'data.batchSize',
  augment: 'data.augment',
  lambda: 'loss.lambda',
  beta: 'loss.beta',
  mode: 'loss.mode',
  copies: 'loss.numCopies',
  experts: 'model.numExperts',
  model: 'model.name',
  width: 'model.width',
  epochs: 'optim.epochs',
  lr: 'optim.lr',
};

/** A --set / flag value: JSON when it parses (numbers, booleans, arrays, objects), else the bare string. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Keys that would reach an object's prototype (`__proto__`, `constructor`, `prototype`): never a config key. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A UsageError when `v` (a value parsed from a flag) holds a forbidden key at any depth. */
function checkKeys(v: unknown, flag: string): void {
  if (!v || typeof v !== 'object') return;
  for (const k of Object.keys(v)) {
    if (FORBIDDEN_KEYS.has(k)) throw new UsageError(`${flag}: '${k}' is not a config key`);
    checkKeys((v as Record<string, unknown>)[k], flag);
  }
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown, flag: string): void {
  const keys = dotted.split('.');
  const bad = keys.find((k) => FORBIDDEN_KEYS.has(k) || !k);
  if (bad !== undefined) throw new UsageError(`${flag}: '${bad}' in '${dotted}' is not a config key`);
  checkKeys(value, flag);
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    const next = Object.hasOwn(o, k) ? o[k] : undefined;
    if (next === undefined) o[k] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new UsageError(`${flag}: '${k}' in '${dotted}' is not a section`);
    }
    o = o[k] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]] = value;
}

export interface TrainFlags {
  protocol?: string;
  /** A registered method, a method file, or NAME for methods/NAME.ts. */
  method?: string;
  config?: string;
  seed?: string;
  set?: string[];
  [shortcut: string]: unknown;
}

/** Build and validate the config; throws UsageError with a one-line message naming the flag. */
export function configFromFlags(f: TrainFlags): TrainConfig {
  const seed = f.seed === undefined ? 0 : intOption(f.seed, 'seed', 0);
  let input: Record<string, unknown>;
  if (f.config !== undefined) {
    pathOption(f.config, 'config');
    if (f.protocol || f.method) throw new UsageError('--config: give either --config or --protocol/--method');
    try {
      input = JSON.parse(fs.readFileSync(f.config, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--config ${f.config}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (f.seed !== undefined) input.seed = seed;
  } else {
    if (!f.protocol) throw new UsageError('--protocol: required (or give --config)');
    if (!f.method) throw new UsageError('--method: required (or give --config)');
    const method = methodOption(f.method);
    try {
      input = protocolConfig(f.protocol, method, seed) as unknown as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--protocol: ${(e as Error).message}`);
    }
  }
  const origin = new Map<string, string>(); // config path → flag that set it
  for (const [flag, p] of Object.entries(SHORTCUTS)) {
    const raw = f[flag];
    if (raw === undefined) continue;
    setPath(input, p, parseValue(String(raw)), `--${flag}`);
    origin.set(p, `--${flag}`);
  }
  for (const kv of f.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${kv}: expected key=value`);
    const key = kv.slice(0, eq);
    setPath(input, key, parseValue(kv.slice(eq + 1)), `--set ${key}`);
    origin.set(key, `--set ${key}`);
  }
  const flagOf = (p: string) => {
    if (origin.has(p)) return origin.get(p);
    // The setting of a section the issue is about (e.g. an unknown key of loss.options set by --set
    // loss.options.x), or the section a setting is in (--set loss.options='{...}' for loss.options.x).
    for (const [key, flag] of origin) if (key.startsWith(`${p}.`) || p.startsWith(`${key}.`)) return flag;
    return f.config ? `--config ${f.config}` : undefined;
  };
  const inf = nonFinite(input);
  if (inf) {
    const flag = flagOf(inf.path);
    throw new UsageError(`${flag ? `${flag}: ` : ''}${inf.path} must be a finite number, got ${inf.value}`);
  }
  const r = TrainConfig.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0];
    // An unknown key is reported on the object that has it: name the key, to find the flag that set it.
    const p = [...first.path, ...(first.code === 'unrecognized_keys' ? first.keys.slice(0, 1) : [])].join(
      '.',
    );
    const flag = flagOf(p);
    if (flag && origin.has(p)) throw new UsageError(`${flag}: ${first.message}`);
    throw new UsageError(`${flag ? `${flag}: ` : 'invalid configuration: '}${formatConfigError(r.error)}`);
  }
  return r.data;
}

/** The first number in `v` that is not finite (JSON reads 1e999 as Infinity), with its dotted path. */
function nonFinite(v: unknown, at = ''): { path: string; value: number } | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : { path: at, value: v };
  if (!v || typeof v !== 'object') return null;
  for (const [k, x] of Object.entries(v)) {
    const found = nonFinite(x, at ? `${at}.${k}` : k);
    if (found) return found;
  }
  return null;
}
