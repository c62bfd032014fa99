/**
 * ncl-lab: NCL++ (Nested Collaborative Learning for long-tailed visual recognition) in TypeScript.
 *
 *   import { tf, initBackend, losses, data } from 'ncl-lab';
 *
 * `tf` is the lib's own tfjs instance: use it, not a separate import, so tensors share one engine.
 */
export { tf } from './tf';
export { initBackend, backendInfo, BACKENDS, guardWasmHeap, WasmHeapError } from './backend';
export type { BackendInfo, BackendChoice, BackendOptions } from './backend';
export * as data from './data';
export * as losses from './losses';
export * as models from './models';
export * as train from './train';
export * as evaluate from './eval';
export * as viz from './viz';
export { showFigure } from './notebook';
export type { ShowFigureOptions, ShownFigure } from './notebook';
export * as experiments from './experiments';
// A method of your own: define it (zod options, a loss factory), register it or put it in methods/NAME.ts, compare it.
export { z } from 'zod';
export { defineMethod, registerMethod, getMethod } from './losses';
export { compare } from './experiments/method-comparison';
export type { LossFn, MethodSpec } from './losses';
