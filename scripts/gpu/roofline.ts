/**
 * Per-kernel FLOPs, bytes moved and tile sizes of the compiled WebGPU step, and a roofline estimate for a GPU, as a
 * markdown table (docs/gpu.md). The plan is built on Dawn's null device (no GPU needed); the counts come from the
 * layer shapes (StepPlan.costs), not from a measurement.
 *
 *   NCL_DAWN_FLAGS=backend=null npx tsx scripts/gpu/roofline.ts [--model resnet32] [--classes 100] [--batch 128]
 *       [--experts 1] [--copies 1] [--tflops 60] [--tbps 3.3] [--launch-us 3]
 * img/s counts images (the batch); with --copies T the rows per second (batch × T) are given beside them.
 *
 * Bytes assume each operand crosses DRAM once per dispatch (tiles re-read from cache are not counted); FLOPs count a
 * multiply-add as 2 and, for the input gradient of a strided convolution, the taps that read zeros. The estimate of a
 * kernel is max(FLOPs / peak, bytes / bandwidth); the step adds `launch-us` per dispatch for the gaps between them.
 */
import { initBackend, tf, models } from '../../lib/src';
import { StepPlan } from 'ncl-kernels';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  process.env.NCL_DAWN_FLAGS ??= 'backend=null';
  await initBackend({ backend: 'webgpu', quiet: true });
  const model = arg('model', 'resnet32') as 'resnet32';
  const classes = Number(arg('classes', '100'));
  const batch = Number(arg('batch', '128'));
  const experts = Number(arg('experts', '1'));
  const copies = Number(arg('copies', '1'));
  const peak = Number(arg('tflops', '60')) * 1e12;
  const bw = Number(arg('tbps', '3.3')) * 1e12;
  const launch = Number(arg('launch-us', '3')) * 1e-6;
  const m = models.createModel(
    { name: model, numClasses: classes, inChannels: 3, width: 16, numExperts: experts },
    1,
  );
  const specs = models.describeModel(m)!;
  const rows = batch * copies;
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const plan = new StepPlan(device, specs, { input: [rows, 32, 32, 3], momentum: 0.9, weightDecay: 2e-4 });
  // Dawn's null device has little memory; the counts do not need the buffers to exist.
  await plan.ready.catch(() => undefined);
  plan.destroy();
  let flops = 0;
  let bytes = 0;
  let est = 0;
  const lines = [
    `${model}, ${classes} classes, batch ${batch}${copies > 1 ? ` × ${copies} copies` : ''}, ` +
      `${experts} expert${experts > 1 ? 's' : ''}: ${plan.dispatchesPerStep} dispatches per step; roofline at ` +
      `${peak / 1e12} TFLOP/s, ${bw / 1e12} TB/s`,
    '',
    '| kernel | dispatches | GFLOP | MB moved | tiles | FLOP/byte | roofline ms |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of plan.costs.values()) {
    const t = Math.max(c.flops / peak, c.bytes / bw);
    flops += c.flops;
    bytes += c.bytes;
    est += t;
    lines.push(
      `| ${c.kernel} | ${c.dispatches} | ${(c.flops / 1e9).toFixed(2)} | ${(c.bytes / 1e6).toFixed(1)} | ` +
        `${[...c.tiles].join('; ')} | ${(c.flops / Math.max(1, c.bytes)).toFixed(1)} | ${(t * 1e3).toFixed(3)} |`,
    );
  }
  const gaps = plan.dispatchesPerStep * launch;
  const step = est + gaps;
  lines.push(
    `| **step** | ${plan.dispatchesPerStep} | ${(flops / 1e9).toFixed(2)} | ${(bytes / 1e6).toFixed(1)} | | ` +
      `${(flops / bytes).toFixed(1)} | ${(est * 1e3).toFixed(3)} + ${(gaps * 1e3).toFixed(2)} gaps = ` +
      `**${(step * 1e3).toFixed(2)}** (${((batch / step) | 0).toLocaleString('en')} img/s` +
      `${copies > 1 ? `, ${((rows / step) | 0).toLocaleString('en')} rows/s` : ''}) |`,
  );
  console.log(lines.join('\n'));
  m.dispose();
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(`roofline: ${(e as Error).message}`);
  process.exit(1);
});
