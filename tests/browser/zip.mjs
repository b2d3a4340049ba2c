// A ZIP reader small enough to trust, for checking downloads without a dependency or an
// `unzip` binary: it walks the central directory and inflates each entry with node:zlib
// (stored and deflated entries, no ZIP64, as a report export is), checking sizes and CRCs.
import { crc32, inflateRawSync } from 'node:zlib';

const END = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function endOfCentralDirectory(zip) {
  // The record is 22 bytes plus a comment of up to 65,535: search backwards for its signature.
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === END) return i;
  }
  throw new Error('not a ZIP file: no end of central directory record');
}

function entryData(zip, method, local, compressedSize) {
  if (zip.readUInt32LE(local) !== LOCAL) throw new Error(`no local file header at ${local}`);
  // The local header repeats the name and has an extra field of its own: skip both.
  const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const raw = zip.subarray(start, start + compressedSize);
  if (method === 0) return raw;
  if (method === 8) return inflateRawSync(raw);
  throw new Error(`compression method ${method} is not supported`);
}

/** The files of a ZIP archive: a Map of name to contents (Buffer), in the archive's order. */
export function unzip(zip) {
  const end = endOfCentralDirectory(zip);
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const files = new Map();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(offset) !== CENTRAL) throw new Error(`no central directory entry at ${offset}`);
    const method = zip.readUInt16LE(offset + 10);
    const crc = zip.readUInt32LE(offset + 16);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const size = zip.readUInt32LE(offset + 24);
    const nameLength = zip.readUInt16LE(offset + 28);
    const skip = nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    const data = entryData(zip, method, zip.readUInt32LE(offset + 42), compressedSize);
    if (data.length !== size) throw new Error(`${name}: ${data.length} bytes, the directory says ${size}`);
    if (crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`);
    files.set(name, data);
    offset += 46 + skip;
  }
  return files;
}
