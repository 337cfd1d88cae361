/**
 * The one-document read every exact call starts with (getOne, getEntry, ttl, value streams,
 * getMeta): a findOne on `_id` with the call's projection, a driver failure reported as the
 * StoreError of that call.
 */
import './driver'; // first: a missing mongodb is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import type { Document } from 'mongodb';
import type { MongoScope } from './connection';
import { toStoreError } from './layout';

/** The document under `_id` with the fields of `projection`, or null; `action` names the call in errors. */
export async function findById<T>(scope: MongoScope, _id: string, projection: Document, action: string): Promise<T | null> {
  try {
    return (await scope.shared.collection.findOne({ _id }, { projection })) as T | null;
  } catch (err) {
    throw toStoreError(err, action);
  }
}
