/**
 * Stop-gradient for tfjs, which has no `tf.stopGradient`.
 *
 * Hard Category Mining (Eq. 7) picks classes with `tf.topk`, and tfjs registers no gradient for TopK: any op
 * downstream of it inside `tf.grads` would throw. The paper (and the authors' code) let no gradient flow through the
 * selection anyway, so the selection runs inside a `tf.customGrad` whose gradient is zero: the ops it runs are not
 * recorded on the tape, and the tape sees one op with a zero gradient.
 */
import { tf } from '../tf';

/**
 * `f(input)`, treated as a constant by autodiff: the gradient that flows back into `input` through it is zero.
 * `f` may use any op (also those without gradients, e.g. `tf.topk`).
 */
export function noGrad<T extends tf.Tensor>(input: tf.Tensor, f: (x: tf.Tensor) => T): T {
  const op = tf.customGrad<T>((...args) => {
    const x = args[0] as tf.Tensor;
    return { value: tf.tidy(() => f(x)), gradFunc: () => tf.zerosLike(x) };
  });
  return op(input);
}

/** `x` as a constant: same values, zero gradient (e.g. a fixed teacher distribution). Shape as `x`. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return noGrad(x, (v) => v.clone() as T);
}
