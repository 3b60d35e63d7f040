/**
 * Tensor shapes of a flat parameter vector: the shared body is a concatenation of tensors in
 * models/layout.ts order, so a list of shapes is all that is needed to split it.
 */

export type TensorShape = readonly number[];

/** Number of elements of one tensor; throws a RangeError naming the tensor if a dimension is bad. */
export function shapeSize(shape: TensorShape, label = 'shape'): number {
  if (!Array.isArray(shape) || shape.length === 0) throw new RangeError(`${label} must be a non-empty list of dimensions (got ${JSON.stringify(shape)})`);
  let n = 1;
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 1) throw new RangeError(`${label}[${i}] must be a positive integer (got ${d})`);
    n *= d;
  });
  if (!Number.isSafeInteger(n)) throw new RangeError(`${label} has too many elements`);
  return n;
}

/** Element count of every tensor, in order. */
export function tensorSizes(shapes: readonly TensorShape[]): number[] {
  if (!Array.isArray(shapes) || shapes.length === 0) throw new RangeError('shapes must be a non-empty list of tensor shapes');
  return shapes.map((s, t) => shapeSize(s, `shapes[${t}]`));
}

export function totalSize(shapes: readonly TensorShape[]): number {
  return tensorSizes(shapes).reduce((a, b) => a + b, 0);
}

export function shapesEqual(a: readonly TensorShape[], b: readonly TensorShape[]): boolean {
  if (a.length !== b.length) return false;
  for (let t = 0; t < a.length; t++) {
    if (a[t].length !== b[t].length) return false;
    for (let d = 0; d < a[t].length; d++) if (a[t][d] !== b[t][d]) return false;
  }
  return true;
}

export function formatShapes(shapes: readonly TensorShape[]): string {
  return shapes.map((s) => `[${s.join(', ')}]`).join(' ');
}
