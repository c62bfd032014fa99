/**
 * Per-kernel time of a piece of work on the current backend, by wrapping the backend's registered kernel functions
 * while `f` runs (cheaper than `tf.profile`, which also records shapes and byte counts per call, and with a choice
 * of clock). A kernel that calls other kernels' functions (e.g. the wasm convolution gradients call Conv2D) is
 * counted once, as the outermost kernel.
 *
 * `clock: 'cpu'` measures this process's CPU time (user + system) instead of wall time: on a machine shared with
 * other work it is far less noisy, and on a single-threaded backend it is the same thing when the machine is idle.
 */
import { tf } from './tf';

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
  /** ms / total ms of all kernels. */
  share: number;
}

export interface KernelProfile<T> {
  result: T;
  /** Kernels by time, largest first. */
  kernels: KernelTime[];
  /** Time inside kernels. */
  kernelMs: number;
  /** Time of the whole of `f` (kernels + JS between them). */
  totalMs: number;
}

function now(clock: 'wall' | 'cpu'): number {
  if (clock === 'wall') return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function profileKernels<T>(f: () => T, opts: { clock?: 'wall' | 'cpu' } = {}): KernelProfile<T> {
  const p = startProfile(opts.clock ?? 'wall');
  let result: T;
  try {
    result = f();
  } finally {
    p.stop();
  }
  return { result, ...p.report() };
}

/** `profileKernels` for asynchronous work: the kernels run until the promise `f()` settles are counted. */
export async function profileKernelsAsync<T>(
  f: () => Promise<T>,
  opts: { clock?: 'wall' | 'cpu' } = {},
): Promise<KernelProfile<T>> {
  const p = startProfile(opts.clock ?? 'wall');
  let result: T;
  try {
    result = await f();
  } finally {
    p.stop();
  }
  return { result, ...p.report() };
}

function startProfile(clock: 'wall' | 'cpu'): {
  stop(): void;
  report(): Omit<KernelProfile<never>, 'result'>;
} {
  const configs = tf.getKernelsForBackend(tf.getBackend()) as tf.KernelConfig[];
  const saved = new Map<tf.KernelConfig, tf.KernelFunc>();
  const acc = new Map<string, { ms: number; calls: number }>();
  let depth = 0;
  for (const config of configs) {
    const inner = config.kernelFunc;
    saved.set(config, inner);
    const name = config.kernelName;
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
      if (depth > 0) return inner(args);
      depth++;
      const t0 = now(clock);
      try {
        return inner(args);
      } finally {
        const dt = now(clock) - t0;
        depth--;
        const e = acc.get(name) ?? { ms: 0, calls: 0 };
        e.ms += dt;
        e.calls++;
        acc.set(name, e);
      }
    }) as tf.KernelFunc;
  }
  const t0 = now(clock);
  let totalMs = 0;
  return {
    stop() {
      for (const [config, fn] of saved) (config as { kernelFunc: tf.KernelFunc }).kernelFunc = fn;
      totalMs = now(clock) - t0;
    },
    report() {
      let kernelMs = 0;
      for (const e of acc.values()) kernelMs += e.ms;
      const kernels = [...acc]
        .map(([name, e]) => ({ name, ms: e.ms, calls: e.calls, share: kernelMs > 0 ? e.ms / kernelMs : 0 }))
        .sort((a, b) => b.ms - a.ms);
      return { kernels, kernelMs, totalMs };
    },
  };
}

/** A few lines: the top kernels with their time and share. */
export function formatKernelProfile(p: { kernels: KernelTime[]; kernelMs: number }, top = 10): string {
  return p.kernels
    .slice(0, top)
    .map(
      (k) =>
        `  ${k.name.padEnd(26)} ${k.ms.toFixed(1).padStart(9)} ms ${(100 * k.share).toFixed(1).padStart(5)}%  ×${k.calls}`,
    )
    .join('\n');
}
