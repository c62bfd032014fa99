/**
 * The tfjs instance the kernels register on. `@tensorflow/tfjs` is a peer dependency: resolved from the workspace's
 * node_modules it is the same module (one engine, one kernel registry) as the one ncl-lab and user code import.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
