/**
 * The one tfjs instance of ncl-lab. Everything in the lib, the notebooks and user code should import `tf` from
 * here (`import { tf } from 'ncl-lab'`) so that they share one engine, one backend and one tensor registry.
 *
 * `@tensorflow/tfjs` brings the `cpu` backend; importing the wasm backend registers `wasm` next to it. Native
 * (`tensorflow`) and WebGPU backends are optional and are loaded on demand by `initBackend`.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export type Tensor = tf.Tensor;
