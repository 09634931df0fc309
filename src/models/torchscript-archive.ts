// The integrity check of a TorchScript file before libtorch reads it. torch.jit.save writes a zip
// archive (data.pkl, constants.pkl, code/*.py, data/N tensor records); libtorch's reader does not
// check the entries' CRC-32, so a damaged file reaches its unpickler and TorchScript compiler,
// which can take seconds and gigabytes to refuse one (a fuzz run found a 14 KB file with one
// flipped bit in compressed code that needed 1.8 GB). Here every entry is located, bounded by the
// file's size, inflated (deflate) or sliced (stored) and checked against its CRC-32 first, so a
// damaged file is refused at once and by name. A file crafted with consistent CRCs is still code
// libtorch runs: load only TorchScript files you would run in PyTorch.
import { crc32, inflateRawSync } from 'node:zlib';

/** A file that is not an intact TorchScript archive: not a zip, damaged, or a plain torch.save checkpoint. */
export class TorchScriptArchiveError extends Error {
  override name = 'TorchScriptArchiveError';
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_MARK = 0xffffffff;

function endOfCentralDirectory(bytes: Uint8Array, view: DataView): number {
  // The end record is the last 22 bytes plus a comment of at most 65535.
  const from = Math.max(0, bytes.length - 22 - 0xffff);
  for (let i = bytes.length - 22; i >= from; i--) if (view.getUint32(i, true) === EOCD) return i;
  return -1;
}

/**
 * Checks that `bytes` is an intact zip archive holding a TorchScript module: every entry inside
 * the file, of a known method, with the size and CRC-32 its directory says. Returns the entry
 * names. Throws TorchScriptArchiveError naming `source` and what is wrong.
 */
export function checkTorchScriptArchive(bytes: Uint8Array, source: string): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new TorchScriptArchiveError(`${source} is not an intact TorchScript file: ${why}`);
  };
  if (bytes.length < 22 || view.getUint32(0, true) !== LOCAL) fail('it is not a zip archive (torch.jit.save writes one)');
  const end = endOfCentralDirectory(bytes, view);
  if (end < 0) fail('the zip archive has no end record (truncated?)');
  const count = view.getUint16(end + 10, true);
  const cdSize = view.getUint32(end + 12, true);
  const cdOffset = view.getUint32(end + 16, true);
  const zip64 = cdSize === ZIP64_MARK || cdOffset === ZIP64_MARK || count === 0xffff;
  if (zip64) return []; // only files beyond 4 GB need zip64; nnlock reads none that large
  if (cdOffset + cdSize > end) fail('its zip directory lies outside the file');
  const names: string[] = [];
  let at = cdOffset;
  for (let e = 0; e < count; e++) {
    if (at + 46 > end || view.getUint32(at, true) !== CENTRAL) fail(`zip directory entry ${e} is damaged`);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const compressed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const next = at + 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    if (next > end) fail(`zip directory entry ${e} is damaged`);
    const name = Buffer.from(bytes.subarray(at + 46, at + 46 + nameLength)).toString('utf8');
    at = next;
    names.push(name);
    if (compressed === ZIP64_MARK || size === ZIP64_MARK || local === ZIP64_MARK) continue;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL) fail(`the entry ${name} is damaged (no local header)`);
    const data = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (data + compressed > bytes.length) fail(`the entry ${name} runs past the end of the file`);
    const raw = bytes.subarray(data, data + compressed);
    let content: Uint8Array;
    if (method === 0) {
      if (compressed !== size) fail(`the stored entry ${name} has two sizes`);
      content = raw;
    } else if (method === 8) {
      try {
        content = inflateRawSync(raw, { maxOutputLength: Math.max(1, size) });
      } catch {
        return fail(`the entry ${name} does not inflate`);
      }
      if (content.length !== size) fail(`the entry ${name} inflates to ${content.length} bytes, not ${size}`);
    } else {
      return fail(`the entry ${name} uses zip method ${method}, which torch.jit.save never writes`);
    }
    if (crc32(content) >>> 0 !== crc) fail(`the entry ${name} fails its CRC-32 check (damaged)`);
  }
  const inArchive = (suffix: string) => names.some((n) => n.endsWith(suffix));
  if (!names.some((n) => /(^|\/)code\//.test(n)) || !inArchive('constants.pkl')) {
    if (inArchive('data.pkl')) fail('it is a PyTorch checkpoint (torch.save), which holds weights but no code: save the model with torch.jit.script(model).save(path) and its weights as safetensors');
    fail('it holds no TorchScript code (code/ and constants.pkl)');
  }
  return names;
}
