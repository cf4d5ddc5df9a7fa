// Injectable file layer for segment and key/value files (tests swap it to simulate failing writes/fsyncs). Imports node:fs only.
import { promises as fsp } from 'node:fs';

/** One open file. Concurrency: positional; the log never issues overlapping writes to one file. */
export interface FileLike {
  read(buf: Buffer, bufOffset: number, length: number, position: number): Promise<number>;
  /** Writes all of buf[0, length) at position (loops over short writes). */
  writeAll(buf: Buffer, position: number): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileIO {
  /** flags as for fs.open: 'r', 'r+', 'w+', 'wx+' (create, fail if it exists). */
  open(path: string, flags: 'r' | 'r+' | 'w+' | 'wx+'): Promise<FileLike>;
}

class NodeFile implements FileLike {
  constructor(private readonly fh: fsp.FileHandle) {}
  async read(buf: Buffer, bufOffset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, bufOffset + done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }
  async writeAll(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  }
  sync(): Promise<void> { return this.fh.sync(); }
  truncate(length: number): Promise<void> { return this.fh.truncate(length); }
  async size(): Promise<number> { return (await this.fh.stat()).size; }
  close(): Promise<void> { return this.fh.close(); }
}

export const nodeFileIO: FileIO = {
  async open(path, flags) { return new NodeFile(await fsp.open(path, flags)); },
};

/** fsync a directory so a create/rename/unlink inside it is durable (best effort: some platforms refuse). */
export async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try { fh = await fsp.open(dir, 'r'); await fh.sync(); } catch { /* not supported here */ } finally { await fh?.close(); }
}
