"""A minimal safetensors reader (the format: https://github.com/huggingface/safetensors).

Reads a file into memory and hands out the raw little-endian bytes of each tensor; it checks what
an untrusted file could get wrong (header size, offsets, byte lengths) and writes nothing.
"""
import json
import struct

from .errors import FormatError

DTYPE_SIZE = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
    "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}
MAX_HEADER_BYTES = 100_000_000


class Entry:
    __slots__ = ("dtype", "shape", "data")

    def __init__(self, dtype, shape, data):
        self.dtype = dtype
        self.shape = shape
        self.data = data  # a memoryview of the file's bytes


def parse(blob, where):
    """(tensors: dict name -> Entry, metadata: dict str -> str) of a safetensors file's bytes."""
    def bad(why):
        return FormatError(f"{where}: not a valid safetensors file: {why}")

    if len(blob) < 8:
        raise bad("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(blob):
        raise bad(f"header length {n} does not fit the file ({len(blob)} bytes)")
    try:
        header = json.loads(bytes(blob[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"header is not UTF-8 JSON ({e.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must map strings to strings")
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict):
            raise bad(f"tensor {name!r} is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_SIZE:
            raise bad(f"tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise bad(f"tensor {name!r} has a bad shape")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise bad(f"tensor {name!r} has bad data_offsets")
        begin, end = offsets
        size = DTYPE_SIZE[dtype]
        for d in shape:
            size *= d
        if not (0 <= begin <= end <= len(data)) or end - begin != size:
            raise bad(f"tensor {name!r}: data_offsets {offsets} do not hold {dtype}{shape}")
        tensors[name] = Entry(dtype, list(shape), data[begin:end])
    return tensors, dict(metadata)
