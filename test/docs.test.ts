// Every ```sh and ```ts block of README.md and docs/*.md runs as written, on the `smoke` protocol, in a copy of this
// checkout in a temporary folder (nothing in the repository is written; the test checks `git status` before and
// after). Blocks run in document order (README.md, then docs/ by name), each file's blocks in one shared workspace,
// so a later block sees what an earlier one wrote (`ncl eval --run runs/first` after `ncl train --out runs/first`).
//
// The documented rewrites, so that the blocks take seconds instead of hours (`rewrite` below):
//   - `--protocol mini` → `--protocol smoke`, `'mini'` → `'smoke'` in a ts block, `--seeds N` → `--seeds 1`;
//     `npm start` → `npm start -- --protocol smoke`;
//   - `ncl bench`, `npm run bench --` and `scripts/bench_torch.py` time `--steps 1 --warmup 1`;
//   - `/tmp/` → the test's own temporary folder;
//   - `npm ci` is left out (the workspace is a copy of an installed checkout), and so is `npm test` (it runs this
//     test).
// A ```ts block is saved as a `.mts` file in the workspace (ES module: top-level await works) and run with
// `npx tsx`, as a user would. The workspace has the checkout's tracked files, lib/dist and packages/kernels/dist, and
// a node_modules whose `ncl-lab` and `ncl-kernels` are the workspace's own (so `workspaceRoot()` is the copy).
//
// Markers, an HTML comment on the line just before the block's opening fence:
//   <!-- no-run: why -->     the block cannot run here (a GPU, a cluster, a server that runs until stopped, ...);
//   <!-- needs: chromium --> (or python3-torch) runs only where that is installed (CI installs both), else skipped
//                            with a diagnostic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');

interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'sh' | 'ts';
  code: string;
  noRun: string | null;
  needs: string[];
}

const LANGS: Record<string, Block['lang']> = {
  sh: 'sh',
  bash: 'sh',
  shell: 'sh',
  ts: 'ts',
  typescript: 'ts',
};

/** The fenced code blocks of a Markdown text, with the marker on the line before each. */
function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+|~~~+)\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++;
    const lang = LANGS[open[3].toLowerCase()];
    if (lang) {
      const before = i > 0 ? lines[i - 1].trim() : '';
      const noRun = /^<!--\s*no-run:\s*(.*?)\s*-->$/.exec(before)?.[1] ?? null;
      const needs = /^<!--\s*needs:\s*(.*?)\s*-->$/.exec(before)?.[1].split(/[\s,]+/) ?? [];
      const code = lines
        .slice(i + 1, end)
        .map((l) => l.slice(Math.min(open[1].length, l.length - l.trimStart().length)))
        .join('\n');
      blocks.push({ file, line: i + 1, lang, code, noRun, needs });
    }
    i = end;
  }
  return blocks;
}

/** The block as the test runs it (see the file comment). */
function rewrite(b: Block, tmp: string): string {
  let s = b.code
    .replace(/--protocol mini\b/g, '--protocol smoke')
    .replace(/--seeds \d+/g, '--seeds 1')
    .replace(/\/tmp\//g, `${tmp}/`);
  if (b.lang === 'ts') return s.replace(/'mini'/g, "'smoke'");
  s = s
    .replace(/\bnpm start(?: --)?(?=\s|$)/g, 'npm start -- --protocol smoke')
    .replace(
      /\b(npm run (?:--silent )?bench --|ncl bench|scripts\/bench_torch\.py)(?=\s|$)/g,
      '$1 --steps 1 --warmup 1',
    );
  return s
    .split('\n')
    .map((line) => line.replace(/^(\s*)npm ci && /, '$1'))
    .filter((line) => !/^\s*npm (ci|test)\b/.test(line))
    .join('\n');
}

/** Is what a `needs:` marker names installed here? */
const PROBES: Record<string, () => boolean> = {
  chromium: () =>
    ['chromium', 'chromium-browser', 'google-chrome'].some((c) => spawnSync('which', [c]).status === 0) ||
    !!process.env.CHROMIUM,
  'python3-torch': () => spawnSync('/usr/bin/python3', ['-c', 'import torch']).status === 0,
};

/** A copy of the checkout to run the blocks in (see the file comment). */
function makeWorkspace(dir: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
  })
    .toString()
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    const src = path.join(root, f);
    if (!fs.existsSync(src) || fs.statSync(src).isDirectory()) continue; // deleted, or a submodule
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(src, path.join(dir, f));
  }
  for (const built of ['lib/dist', 'packages/kernels/dist']) {
    fs.cpSync(path.join(root, built), path.join(dir, built), { recursive: true });
  }
  const modules = path.join(root, 'node_modules');
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  for (const e of fs.readdirSync(modules)) {
    const at = path.join(dir, 'node_modules', e);
    if (e === 'ncl-lab') fs.symlinkSync('../lib', at);
    else if (e === 'ncl-kernels') fs.symlinkSync('../packages/kernels', at);
    else if (e === '.bin') {
      // The same relative links: `ncl` → ../ncl-lab/bin/ncl.js is the workspace's.
      for (const b of fs.readdirSync(path.join(modules, e))) {
        fs.symlinkSync(fs.readlinkSync(path.join(modules, e, b)), path.join(at, b));
      }
    } else if (!e.startsWith('.')) fs.symlinkSync(path.join(modules, e), at);
  }
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: 600_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

const gitStatus = () =>
  execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: root }).toString();

test('extractBlocks reads sh and ts blocks with their markers; rewrite makes them smoke-sized', () => {
  const md = [
    '# t',
    '```sh',
    'npm ci && npm start',
    'npm ci && npm test',
    'npx ncl reproduce all --protocol mini --seeds 3 --results /tmp/r',
    'npm run --silent bench -- --model mini --json',
    '```',
    '<!-- no-run: needs a GPU -->',
    '```sh',
    'run.sh',
    '```',
    '```text',
    'not code',
    '```',
    '<!-- needs: chromium python3-torch -->',
    '```ts',
    "train.getProtocol('mini', 'nclpp')",
    '```',
  ].join('\n');
  const blocks = extractBlocks('x.md', md);
  assert.deepEqual(
    blocks.map((b) => [b.line, b.lang, b.noRun, b.needs]),
    [
      [2, 'sh', null, []],
      [9, 'sh', 'needs a GPU', []],
      [16, 'ts', null, ['chromium', 'python3-torch']],
    ],
  );
  assert.equal(
    rewrite(blocks[0], '/T'),
    'npm start -- --protocol smoke\n' +
      'npx ncl reproduce all --protocol smoke --seeds 1 --results /T/r\n' +
      'npm run --silent bench -- --steps 1 --warmup 1 --model mini --json',
  );
  assert.equal(rewrite(blocks[2], '/T'), "train.getProtocol('smoke', 'nclpp')");
});

const docs = [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const blocksOf = Object.fromEntries(
  docs.map((f) => [f, extractBlocks(f, fs.readFileSync(path.join(root, f), 'utf8'))]),
);

test('every block that does not run here says why, and names only known requirements', (t) => {
  const all = Object.values(blocksOf).flat();
  for (const b of all) {
    if (b.noRun !== null) {
      assert.ok(b.noRun.length >= 10, `${b.file}:${b.line}: no-run without a reason`);
      t.diagnostic(`${b.file}:${b.line}: no-run: ${b.noRun}`);
    }
    for (const n of b.needs) assert.ok(n in PROBES, `${b.file}:${b.line}: unknown requirement '${n}'`);
  }
  // A marker belongs on the line just before a block's opening fence.
  for (const file of docs) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (/^<!--\s*(no-run|needs):/.test(l.trim()))
        assert.match(
          lines[i + 1] ?? '',
          /^\s*(```|~~~)/,
          `${file}:${i + 1}: a marker not followed by a code block`,
        );
    });
  }
  const noRun = all.filter((b) => b.noRun !== null).length;
  assert.ok(noRun <= all.length / 2, `${noRun} of ${all.length} blocks are not run`);
});

for (const file of docs) {
  const runnable = blocksOf[file].filter((b) => b.noRun === null);
  if (runnable.length === 0) continue;
  test(`${file}: its code blocks run (on smoke)`, async (t) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-docs-'));
    const ws = path.join(base, 'ncl-lab');
    const tmp = path.join(base, 'tmp');
    fs.mkdirSync(tmp);
    fs.mkdirSync(path.join(base, 'home'));
    const statusBefore = gitStatus();
    try {
      makeWorkspace(ws);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        HOME: path.join(base, 'home'),
        TMPDIR: tmp,
        npm_config_offline: 'true', // npx finds everything in the workspace, or fails: never a download
        npm_config_update_notifier: 'false',
      };
      for (const k of ['NODE_TEST_CONTEXT', 'NCL_PROTOCOL', 'NCL_DATA_DIR', 'INIT_CWD']) delete env[k];
      const seen = new Map<string, number>();
      for (const [i, b] of runnable.entries()) {
        const where = `${file}:${b.line}`;
        const missing = b.needs.filter((n) => !PROBES[n]());
        const twin = seen.get(b.code);
        const skip = missing.length
          ? `needs ${missing.join(', ')}, not installed here`
          : twin
            ? `the same block as line ${twin}, already run`
            : false;
        seen.set(b.code, seen.get(b.code) ?? b.line);
        await t.test(`${where} (${b.lang})`, { skip }, async () => {
          const code = rewrite(b, tmp);
          let r;
          if (b.lang === 'ts') {
            const script = `docs-block-${i + 1}.mts`;
            fs.writeFileSync(path.join(ws, script), code + '\n');
            r = await run('npx', ['tsx', script], ws, env);
          } else {
            r = await run('bash', ['-e', '-o', 'pipefail', '-c', code], ws, env);
          }
          const tail = r.out
            .trim()
            .split('\n')
            .slice(-25)
            .map((l) => (l.length > 300 ? `${l.slice(0, 300)} …` : l))
            .join('\n');
          assert.equal(
            r.code,
            0,
            `${where} failed (exit ${r.code}); as run:\n${code}\n--- output (tail) ---\n${tail}`,
          );
        });
      }
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
    assert.equal(gitStatus(), statusBefore, 'the blocks wrote into the repository');
  });
}
