/**
 * The `ncl` command line as one file, for a machine without Node.js or node_modules: scripts/gpu/prepare.sh bundles
 * it into .gpu/ncl.js (with `require.main` defined away, so only this file starts the CLI), to train there:
 * `node ncl.js train --protocol paper-cifar100-lt --backend webgpu` (see docs/gpu.md).
 */
import { main } from '../../lib/src/cli/main';

main(process.argv);
