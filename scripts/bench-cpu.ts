/**
 * One run on every core, against PyTorch on the same CPU, in alternating rounds (docs/performance.md, "Threads").
 *
 *   npx tsx scripts/bench-cpu.ts [--rounds 3] [--threads N] [--out scripts/results/cpu-DATE]
 *
 * Each round runs, one after another (never two at once):
 *   1. `ncl bench` ResNet-32, 100 classes, batch 128, --threads N (default: every core)
 *   2. PyTorch (scripts/bench_torch.py), the same model and step, N threads
 *   3. `ncl bench` the same with --threads 1 (the scaling 1 → N)
 *   4. `ncl bench` mini's NCL++ step (ResNet-8 w16, 28×28×1, K = 2 experts, T = 2 copies, batch 64), --threads N
 *   5. PyTorch, the same NCL++ step (scripts/torch/ncl_loss.py), N threads
 *   6. `ncl bench` mini's NCL++ step with --threads 1
 * and the order of ours and PyTorch's alternates between rounds. Every result is a JSON line in OUT.jsonl; OUT.md
 * is the summary: per round img/s (images, not rows: an NCL++ step of batch 64 × 2 copies is 64 images) and the
 * ratios ncl / PyTorch and N threads / 1 thread, then their median and range over the rounds.
 *
 * PyTorch: Debian's python3-torch (`apt-get install -y python3-torch`), run with /usr/bin/python3 (PYTHON=...).
 * PAUSE_PIDS="pid ..." pauses those processes (SIGSTOP) for the rounds and resumes them (SIGCONT) when the script
 * ends, however it ends: other work on the machine makes every number noisier.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface Args {
  rounds: number;
  threads: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (flag: string, def: number) => {
    const v = get(flag);
    const n = v === undefined ? def : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got '${v}'`);
    return n;
  };
  const date = new Date().toISOString().slice(0, 10);
  return {
    rounds: int('--rounds', 3),
    threads: int('--threads', os.availableParallelism?.() ?? os.cpus().length),
    out: get('--out') ?? path.join('scripts', 'results', `cpu-${date}`),
  };
}

const ROOT = path.resolve(__dirname, '..');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const RESNET = ['--model', 'resnet32', '--classes', '100', '--batch', '128'];
const NCLPP = ['--model', 'mini', '--batch', '64', '--experts', '2', '--method', 'nclpp', '--copies', '2'];

interface Result {
  round: number;
  side: 'ncl' | 'torch';
  bench: 'resnet32' | 'mini-nclpp';
  threads: number;
  /** Images (not rows) per second, from the median step. */
  imagesPerSec: number;
  msPerStep: number;
  raw: Record<string, unknown>;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  }
  return JSON.parse(line) as Record<string, unknown>;
}

function ncl(bench: Result['bench'], threads: number, round: number): Result {
  const args = bench === 'resnet32' ? [...RESNET, '--steps', '5'] : [...NCLPP, '--steps', '10'];
  const raw = run(process.execPath, [
    '--import',
    'tsx',
    'lib/src/cli/main.ts',
    'bench',
    ...args,
    '--warmup',
    '2',
    '--backend',
    'wasm',
    '--threads',
    String(threads),
    '--json',
  ]);
  const copies = Number(raw.copies ?? 1);
  const msPerStep = Number(raw.msPerStep);
  const batch = Number(raw.batch);
  return { round, side: 'ncl', bench, threads, imagesPerSec: (batch * 1000) / msPerStep, msPerStep, raw: { ...raw, copies } };
}

function torch(bench: Result['bench'], threads: number, round: number): Result {
  const args = bench === 'resnet32' ? [...RESNET, '--steps', '10'] : [...NCLPP, '--steps', '20'];
  const raw = run(PYTHON, ['scripts/bench_torch.py', ...args, '--threads', String(threads), '--json']);
  const msPerStep = Number(raw.msPerStep);
  return {
    round,
    side: 'torch',
    bench,
    threads,
    imagesPerSec: (Number(raw.batch) * 1000) / msPerStep,
    msPerStep,
    raw,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summary(results: Result[], a: Args): string {
  const find = (round: number, side: string, bench: string, threads: number) =>
    results.find((r) => r.round === round && r.side === side && r.bench === bench && r.threads === threads);
  const lines = [
    `# CPU: one ncl-lab run on ${a.threads} thread(s) against PyTorch (${a.threads} threads), ${a.rounds} alternating rounds`,
    '',
    `Host: ${os.cpus()[0]?.model ?? '?'}, ${os.availableParallelism?.() ?? os.cpus().length} logical cores, ` +
      `Node ${process.version}; load average at the start ${os.loadavg()[0].toFixed(1)}. img/s = images per second ` +
      '(median step). Raw results: the .jsonl beside this file.',
    '',
  ];
  for (const bench of ['resnet32', 'mini-nclpp'] as const) {
    const title =
      bench === 'resnet32'
        ? 'ResNet-32, 100 classes, batch 128'
        : "mini's NCL++ step (ResNet-8 w16, 28×28×1, K = 2, T = 2, batch 64)";
    lines.push(`## ${title}`, '');
    lines.push(
      `| round | ncl ${a.threads} thr img/s | PyTorch img/s | ncl 1 thr img/s | ncl / PyTorch | ${a.threads} thr / 1 thr |`,
    );
    lines.push('| --- | --- | --- | --- | --- | --- |');
    const ratios: number[] = [];
    const scaling: number[] = [];
    for (let round = 1; round <= a.rounds; round++) {
      const n = find(round, 'ncl', bench, a.threads);
      const t = find(round, 'torch', bench, a.threads);
      const one = find(round, 'ncl', bench, 1);
      if (!n || !t || !one) continue;
      ratios.push(n.imagesPerSec / t.imagesPerSec);
      scaling.push(n.imagesPerSec / one.imagesPerSec);
      lines.push(
        `| ${round} | ${n.imagesPerSec.toFixed(1)} | ${t.imagesPerSec.toFixed(1)} | ${one.imagesPerSec.toFixed(1)} | ` +
          `${ratios[ratios.length - 1].toFixed(2)} | ${scaling[scaling.length - 1].toFixed(2)} |`,
      );
    }
    if (ratios.length) {
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
      lines.push(
        `| **median (range)** | | | | **${median(ratios).toFixed(2)}** (${range(ratios)}) | ` +
          `**${median(scaling).toFixed(2)}** (${range(scaling)}) |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const pause = (process.env.PAUSE_PIDS ?? '').split(/\s+/).filter(Boolean).map(Number);
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pause) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
  };
  process.on('exit', () => signal('SIGCONT'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  signal('SIGSTOP');
  fs.mkdirSync(path.dirname(a.out), { recursive: true });
  const jsonl = `${a.out}.jsonl`;
  fs.writeFileSync(jsonl, '');
  const results: Result[] = [];
  const record = (r: Result) => {
    results.push(r);
    fs.appendFileSync(jsonl, JSON.stringify(r) + '\n');
    console.error(`round ${r.round} ${r.bench} ${r.side} ${r.threads} thr: ${r.imagesPerSec.toFixed(1)} img/s`);
  };
  for (let round = 1; round <= a.rounds; round++) {
    for (const bench of ['resnet32', 'mini-nclpp'] as const) {
      const pair = [() => ncl(bench, a.threads, round), () => torch(bench, a.threads, round)];
      if (round % 2 === 0) pair.reverse(); // alternate who goes first
      for (const f of pair) record(f());
      if (a.threads > 1) record(ncl(bench, 1, round));
    }
  }
  const md = summary(results, a);
  fs.writeFileSync(`${a.out}.md`, md + '\n');
  console.log(md);
}

main();
