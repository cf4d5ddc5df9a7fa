// Public entry of the storage layer: types, openLog, openKeyValueStore. Imports only files in src/log.
export type * from './types.ts';
export { openLog, fnv1a, type OpenLogOptions } from './log.ts';
export { openKeyValueStore, type KeyValueOptions } from './kv.ts';
export type { FileIO, FileLike } from './fileio.ts';
export { nodeFileIO } from './fileio.ts';
