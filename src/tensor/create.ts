// Tensors from JavaScript data. Data crosses the boundary by copy.
import { native } from '../native/index.ts';
import { type DType, type TypedArray, BYTES_PER_ELEMENT, dtypeOfArray } from './dtype.ts';
import { Tensor } from './tensor.ts';

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkShape(shape: readonly number[], length: number): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`tensor: bad shape [${shape.join(', ')}]: entries must be non-negative integers`);
  }
  if (product(shape) !== length) throw new RangeError(`tensor: ${length} values do not fill shape [${shape.join(', ')}] (${product(shape)} elements)`);
}

/** Converts numbers to the typed array that holds `dtype`. */
function typedArrayFor(values: ArrayLike<number>, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
      return Uint8Array.from(values);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'float16':
    case 'bfloat16':
      throw new TypeError(`tensor: build ${dtype} tensors from float32 data and convert with toDtype()`);
  }
}

/**
 * A tensor from a typed array (its dtype unless one is given), a number array (float32 unless a
 * dtype is given) or a single number (a scalar, shape []). The shape defaults to 1-D.
 */
export function tensor(data: TypedArray | readonly number[] | number, shape?: readonly number[], dtype?: DType): Tensor {
  if (typeof data === 'number') return tensor([data], shape ?? [], dtype);
  let array: TypedArray;
  if (Array.isArray(data)) {
    array = typedArrayFor(data as readonly number[], dtype ?? 'float32');
  } else {
    const typed = data as TypedArray;
    const natural = typed instanceof Uint16Array ? dtype : dtypeOfArray(typed);
    if (natural === undefined) throw new TypeError('tensor: a Uint16Array needs dtype float16 or bfloat16');
    const wanted = dtype ?? natural;
    if (wanted === 'bool' && natural === 'uint8') {
      // a bool tensor must hold only 0 and 1, whatever bytes were given
      array = (typed as Uint8Array).every((v) => v <= 1) ? typed : Uint8Array.from(typed as Uint8Array, (v) => (v ? 1 : 0));
    } else if (wanted !== natural) {
      if (typed instanceof BigInt64Array) array = typedArrayFor(Array.from(typed, Number), wanted);
      else array = typedArrayFor(typed as ArrayLike<number>, wanted);
    } else {
      array = typed;
    }
    dtype = wanted;
  }
  const dims = shape ?? [array.length];
  checkShape(dims, array.length);
  return new Tensor(native.fromBytes(array, dims, dtype ?? 'float32'));
}

/** A tensor from raw little-endian bytes (what safetensors files hold). */
export function fromBytes(bytes: Uint8Array, shape: readonly number[], dtype: DType): Tensor {
  const n = product(shape);
  if (bytes.byteLength !== n * BYTES_PER_ELEMENT[dtype]) {
    throw new RangeError(`fromBytes: ${bytes.byteLength} bytes do not hold ${dtype}[${shape.join(', ')}] (${n * BYTES_PER_ELEMENT[dtype]} bytes)`);
  }
  return new Tensor(native.fromBytes(bytes, shape, dtype));
}

/** The raw little-endian bytes of a tensor (contiguous copy, on the CPU). */
export function toBytes(t: Tensor): Uint8Array {
  return new Uint8Array(native.toBytes(t.handle));
}
