/**
 * Streamed values in GridFS (SPEC §7). A value written with setStream is uploaded as a GridFS
 * file first; only when the upload has completed does the entry document point at it (`g`),
 * so a stream that fails midway leaves no partial value visible, and the aborted upload's
 * chunks are deleted. Each file carries `metadata: { n, id, e }` (namespace, key id, expiry)
 * so clear() can find a namespace's files and the sweep can free expired ones without
 * reading any entry.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import type { EventEmitter } from 'node:events';
import { Binary, Collection, Db, GridFSBucket, ObjectId } from 'mongodb';
import { StorageOperationError } from '../../errors';

/** Chunks per cursor batch when reading a file (~1 MB with the default chunk size). */
const DOWNLOAD_BATCH = 4;

/** Metadata stored with each file. */
export interface FileMeta {
  n: string;
  id: string;
  e: Date | null;
}

/** The GridFS side of one collection. */
export class ValueFiles {
  readonly bucket: GridFSBucket;
  private indexed: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    readonly bucketName: string,
    private readonly chunkSizeBytes: number,
  ) {
    this.bucket = new GridFSBucket(db, { bucketName, chunkSizeBytes });
  }

  /** The bucket's files collection (`<bucket>.files`: one document per file, with its `length`). */
  get filesCollection(): Collection {
    return this.db.collection(`${this.bucketName}.files`);
  }

  /** Index used by clear() and the expiry sweep; created once, on the first upload. */
  private ensureIndexes(): Promise<void> {
    if (!this.indexed) {
      this.indexed = this.db
        .collection(`${this.bucketName}.files`)
        .createIndexes([
          { key: { 'metadata.n': 1 }, name: 'metadata_n' },
          { key: { 'metadata.e': 1 }, name: 'metadata_e', sparse: true },
        ])
        .then(
          () => undefined,
          (err) => {
            this.indexed = undefined;
            throw err;
          },
        );
    }
    return this.indexed;
  }

  /** Uploads `source` as a new file; on any failure the partial upload is removed and the error rethrown. */
  async upload(filename: string, source: AsyncIterable<Buffer>, meta: FileMeta): Promise<ObjectId> {
    await this.ensureIndexes();
    const fileId = new ObjectId();
    const upload = this.bucket.openUploadStreamWithId(fileId, filename, { metadata: meta });
    let failed: Error | undefined;
    const onError = (err: Error) => {
      failed = failed ?? err;
    };
    upload.on('error', onError);
    try {
      for await (const chunk of source) {
        if (failed) throw failed;
        if (!upload.write(chunk)) await settled(upload, 'drain');
        if (failed) throw failed;
      }
      const finished = settled(upload, 'finish');
      upload.end();
      await finished;
      if (failed) throw failed;
      return fileId;
    } catch (err) {
      await this.discardUpload(upload, fileId);
      throw err;
    }
  }

  private async discardUpload(upload: ReturnType<GridFSBucket['openUploadStreamWithId']>, fileId: ObjectId): Promise<void> {
    try {
      if (!upload.writableFinished) await upload.abort();
    } catch {
      // abort() fails when the stream already errored; the chunks are removed below either way.
    }
    await this.remove(fileId).catch(() => undefined);
  }

  /** Sets the expiry a file's metadata carries (its entry was touched); a missing file is not an error. */
  async setExpiry(fileId: ObjectId, e: Date | null): Promise<void> {
    await this.db.collection(`${this.bucketName}.files`).updateOne({ _id: fileId }, { $set: { 'metadata.e': e } });
  }

  /** Deletes a file and its chunks; a missing file is not an error. */
  async remove(fileId: ObjectId): Promise<void> {
    await this.db.collection(`${this.bucketName}.chunks`).deleteMany({ files_id: fileId });
    await this.db.collection(`${this.bucketName}.files`).deleteOne({ _id: fileId });
  }

  /**
   * The file's bytes as chunks, in order. Read with a small cursor batch rather than through
   * GridFSBucketReadStream, whose cursor takes the server's default first batch (101 chunks,
   * ~25 MB) and 16 MB getMores: constant memory needs a few chunks in flight, not a hundred.
   */
  async *download(fileId: ObjectId): AsyncGenerator<Buffer> {
    const file = await this.db.collection(`${this.bucketName}.files`).findOne({ _id: fileId }, { projection: { length: 1, chunkSize: 1 } });
    if (!file) throw new StorageOperationError(`mongo: the GridFS file ${fileId.toHexString()} of a streamed value is gone (deleted by a concurrent write?)`);
    const length: unknown = file.length;
    const chunkSize: unknown = file.chunkSize;
    if (!isCount(length) || !isCount(chunkSize) || (chunkSize === 0 && length > 0)) {
      throw new StorageOperationError(`mongo: GridFS file ${fileId.toHexString()} has an unusable length or chunkSize`);
    }
    const expected = length === 0 ? 0 : Math.ceil(length / chunkSize);
    const cursor = this.db
      .collection(`${this.bucketName}.chunks`)
      .find({ files_id: fileId }, { sort: { n: 1 }, projection: { _id: 0, n: 1, data: 1 }, batchSize: DOWNLOAD_BATCH });
    let n = 0;
    let bytes = 0;
    try {
      for await (const chunk of cursor) {
        if (chunk.n !== n) throw new StorageOperationError(`mongo: GridFS file ${fileId.toHexString()} is missing chunk ${n}`);
        if (!(chunk.data instanceof Binary)) throw new StorageOperationError(`mongo: GridFS file ${fileId.toHexString()} has a chunk ${n} without binary data`);
        n++;
        const data = chunk.data.buffer;
        bytes += data.byteLength;
        yield Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      }
    } finally {
      await cursor.close().catch(() => undefined);
    }
    if (n !== expected || bytes !== length) {
      throw new StorageOperationError(`mongo: GridFS file ${fileId.toHexString()} has ${n} of ${expected} chunks, ${bytes} of ${length} bytes`);
    }
  }

  /** The whole file as one Buffer. */
  async readAll(fileId: ObjectId): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.download(fileId)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /** Deletes every file of a namespace. */
  async removeNamespace(namespace: string): Promise<void> {
    await this.removeWhere({ 'metadata.n': namespace });
  }

  /**
   * Deletes files whose entry expired at or before `now` (their entries are freed by the TTL
   * index), except those `held` says a live entry still holds (its expiry moved since the file
   * was written: a touch).
   */
  async removeExpired(now: number, held?: (fileId: ObjectId) => Promise<boolean>): Promise<number> {
    return this.removeWhere({ 'metadata.e': { $lte: new Date(now) } }, held);
  }

  private async removeWhere(filter: Record<string, unknown>, held?: (fileId: ObjectId) => Promise<boolean>): Promise<number> {
    const files = this.db.collection(`${this.bucketName}.files`);
    let removed = 0;
    for await (const file of files.find(filter, { projection: { _id: 1 } })) {
      const fileId = file._id as ObjectId;
      if (held && (await held(fileId))) continue;
      await this.remove(fileId);
      removed++;
    }
    return removed;
  }
}

/** A non-negative whole number, as a file's length and chunk size must be (BSON int, long or double). */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Resolves on `event`, rejects on 'error', and leaves no listener behind either way. */
function settled(emitter: EventEmitter, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = () => {
      emitter.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      emitter.off(event, onEvent);
      reject(err);
    };
    emitter.once(event, onEvent);
    emitter.once('error', onError);
  });
}
