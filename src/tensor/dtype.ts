// Element types, named as PyTorch names them (without the "torch." prefix).
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/** The typed array a tensor of this dtype reads out to. float16/bfloat16 come out as raw Uint16 bits. */
export type ArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : D extends 'float16' | 'bfloat16'
              ? Uint16Array
              : Uint8Array;

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export function isDType(name: string): name is DType {
  return (DTYPES as readonly string[]).includes(name);
}

/**
 * The dtype of a tensor as the addon names it. libtorch has element types nnlock does not compute
 * with (complex64, qint8, ...: a tensor made through the generic call, or loaded from a user's
 * TorchScript module); they are refused here rather than typed as a DType they are not.
 */
export function nativeDType(name: string): DType {
  if (!isDType(name)) throw new TypeError(`dtype: nnlock does not compute with ${name} tensors (supported: ${DTYPES.join(', ')})`);
  return name;
}

export function assertDType(name: string): DType {
  if (!(DTYPES as readonly string[]).includes(name)) throw new TypeError(`unknown dtype '${name}' (expected one of ${DTYPES.join(', ')})`);
  return name as DType;
}

/** The dtype a typed array holds when no dtype is given. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  throw new TypeError('a Uint16Array is ambiguous: pass dtype float16 or bfloat16');
}

/** Views raw little-endian bytes as the typed array of a dtype (copying only when misaligned). */
export function viewBytes(buffer: ArrayBuffer, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer);
  }
}
