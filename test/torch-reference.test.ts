// The trainer against an independent PyTorch reference (scripts/torch/reference_step.py, float64): the same initial
// weights and the same two batches, two full NCL++ / NCL steps (forward through K ResNets with batch norm, the loss,
// backward, SGD with momentum and weight decay). Every weight, every running statistic and every loss term must agree.
// The reference's own loss is first checked against the golden vectors, so it is not a copy of our mistakes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { initBackend, data, tf, train } from '../lib/src';
import { GOLDEN_FILE, TERM_KEYS } from './fixtures/golden';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts/torch/reference_step.py');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ncl-torch-'));

/** A Python with PyTorch (Debian's python3-torch lives under /usr/bin/python3), or null. */
function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}
const PY = findTorchPython();
// CI installs python3-torch, so there a missing PyTorch is a failure, not a skip.
const skip = PY || process.env.CI ? false : 'PyTorch not installed (apt-get install python3-torch)';

before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});

function python(args: string[], input?: string): string {
  assert.ok(PY, 'PyTorch not found: CI must install python3-torch');
  const r = spawnSync(PY, [SCRIPT, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `reference_step.py failed: ${r.stderr}`);
  return r.stdout;
}

test(
  'the PyTorch reference loss matches the committed golden vectors (NCL++ and NCL, both semantics)',
  { skip },
  () => {
    const r = JSON.parse(python(['--golden', GOLDEN_FILE])) as { cases: number; maxRelErr: number };
    assert.ok(r.cases >= 3);
    assert.ok(r.maxRelErr < 1e-6, `max relative error ${r.maxRelErr}`);
  },
);

/** ‖a − b‖ / max(‖b‖, tiny). */
function relDiff(a: Float32Array | number[], b: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

/** The change two steps made to each parameter, ‖Δ − Δ_ref‖ / ‖Δ_ref‖, against float64 PyTorch. */
function updateErrors(
  init: Record<string, [number[], number[]]>,
  ref: Record<string, [number[], number[]]>,
  got: Map<string, { shape: number[]; data: Float32Array | number[] }>,
): Map<string, number> {
  const errs = new Map<string, number>();
  for (const [name, [shape, want]] of Object.entries(ref)) {
    const g = got.get(name);
    assert.ok(g, `no ${name} in the result`);
    assert.deepEqual(g.shape, shape, name);
    const w0 = init[name][1];
    errs.set(
      name,
      relDiff(
        Array.from(g.data, (v, i) => v - w0[i]),
        want.map((v, i) => v - w0[i]),
      ),
    );
  }
  return errs;
}

type RefRun = { steps: Record<string, number>[]; weights: Record<string, [number[], number[]]> };

for (const method of ['nclpp', 'ncl'] as const) {
  test(
    `two ${method} training steps equal PyTorch's: every weight, BN statistic and loss term`,
    { skip },
    async () => {
      const c = train.TrainConfig.parse({
        ...train.protocolConfig('smoke', method, 5),
        optim: {
          ...train.protocolConfig('smoke', method).optim,
          epochs: 1,
          maxStepsPerEpoch: 2,
          warmupEpochs: 0,
          lr: 0.05,
          momentum: 0.9,
          weightDecay: 5e-4,
        },
      });
      const prep = await train.prepareData(c);
      const init = train.modelFromConfig(c, prep.dataset.numClasses, prep.train.channels);
      const weights: Record<string, [number[], number[]]> = {};
      for (const [name, v] of init.store.all()) weights[name] = [v.shape, Array.from(v.dataSync())];
      init.dispose();

      const steps: { lr: number; x: number[]; shape: number[]; y: number[] }[] = [];
      for (const b of data.trainBatches(prep.train, train.batchOptions(c, prep.dataset), 0)) {
        if (steps.length < 2)
          steps.push({
            lr: train.learningRate(c.optim, 0, steps.length / 2),
            x: Array.from(b.x.dataSync()),
            shape: b.x.shape,
            y: Array.from(b.y.dataSync()),
          });
        tf.dispose([b.x, b.y]);
      }
      const spec = {
        method: c.method,
        K: c.model.numExperts,
        T: c.loss.numCopies,
        blocks: 1, // resnet8
        numHard: train.numHardOf(c, prep.dataset.numClasses),
        lambda: c.loss.lambda,
        momentum: c.optim.momentum,
        weightDecay: c.optim.weightDecay,
        classCounts: prep.classCounts,
        weights,
        steps,
      };
      const ref = JSON.parse(python([], JSON.stringify(spec))) as { float64: RefRun; float32: RefRun };
      const f32 = new Map(
        Object.entries(ref.float32.weights).map(([n, [shape, d]]) => [n, { shape, data: d }]),
      );
      // How far float32 rounding alone moves PyTorch's own result (the same steps, in float32).
      const rounding = updateErrors(weights, ref.float64.weights, f32);

      for (const backend of ['cpu', 'wasm']) {
        await tf.setBackend(backend);
        const ours: Record<string, number>[] = [];
        const outDir = path.join(tmp, `${method}-${backend}`);
        const { model } = await train.trainRun(c, {
          outDir,
          prepared: prep,
          progress: false,
          analysis: false,
          onStep: (s) => ours.push(s.terms),
        });
        model.dispose();
        assert.equal(ours.length, 2);
        for (let s = 0; s < 2; s++) {
          for (const [golden, key] of Object.entries(TERM_KEYS)) {
            const v = ours[s][key];
            const want = ref.float64.steps[s][golden];
            assert.ok(
              Math.abs(v - want) <= 1e-4 * Math.max(1, Math.abs(want)),
              `${backend}, step ${s + 1}, ${key}: ${v} vs PyTorch ${want}`,
            );
          }
        }
        const final = train.loadCheckpoint(path.join(outDir, 'checkpoint.bin')).tensors;
        for (const [name, err] of updateErrors(weights, ref.float64.weights, final)) {
          // cpu sums in float64 where it matters (batch-norm gradients) and must agree closely. The wasm kernels sum
          // in float32 like PyTorch does; a few parameters of this tiny net are sensitive to that rounding (PyTorch's
          // own float32 run moves them by up to a few %), so there they must stay within PyTorch's float32 error.
          const tol = backend === 'cpu' ? 2e-4 : Math.max(2e-4, 2 * rounding.get(name)!);
          assert.ok(
            err < tol,
            `${backend}, ${name}: the update differs from PyTorch's by ${err.toExponential(2)} (relative; ` +
              `tolerance ${tol.toExponential(2)}, PyTorch float32 vs float64 ${rounding.get(name)!.toExponential(2)})`,
          );
        }
      }
      await tf.setBackend('wasm');
    },
  );
}
