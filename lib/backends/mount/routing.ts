/**
 * Which mount a key belongs to, and which mounts a selector can touch (SPEC §16 mount). Mounts
 * are numbered in settings order; the default mount, when there is one, comes last.
 *
 * - A string key goes to the mount whose name is its longest prefix, else the default.
 * - An object key goes to the mount named by the string value of its top-level `field`, else
 *   the default (no field setting, the field absent, or not a string naming a mount).
 * - A glob touches the mounts its literal prefix (what comes before its first `*`, `?`, `[` or
 *   `\`) can reach; a query with an equality or `$in` on `field` touches the mounts named by its
 *   values and the default (a key whose field is an array routes to the default and may match
 *   too); any other selector touches every mount.
 */
import { InvalidKeyError } from '../../errors';
import { Key, KeyObject, isObjectKeyId } from '../../keys';
import type { IndexConstraint } from '../../query-index';
import type { Selector } from '../../query';

/** No mount takes the key (and there is no default). */
export const NO_MOUNT = -1;

/** See the file comment. */
export class MountRouter {
  /** Mount indexes by name, for object keys. */
  private readonly byName = new Map<string, number>();
  /** Named mounts, longest name first, for string keys. */
  private readonly byLength: Array<{ name: string; index: number }>;
  /** The default mount's index, or NO_MOUNT. */
  readonly fallback: number;
  /** Every mount's index, in order. */
  readonly all: readonly number[];

  /**
   * `names`: each mount name with the index of its mount (several names may share one mount: the
   * same store given twice is mounted once); `fallback`: the default's index or NO_MOUNT;
   * `count`: how many mounts there are.
   */
  constructor(
    private readonly names: ReadonlyArray<{ name: string; index: number }>,
    fallback: number,
    count: number,
    private readonly field: string | undefined,
  ) {
    for (const { name, index } of names) this.byName.set(name, index);
    this.byLength = [...names].sort((a, b) => b.name.length - a.name.length);
    this.fallback = fallback;
    this.all = Array.from({ length: count }, (_, i) => i);
  }

  /** The mount of the key with canonical id `id` (`key` is the key itself when the caller has it). */
  route(id: string, key?: Key): number {
    if (!isObjectKeyId(id)) return this.routeString(id);
    if (this.field === undefined) return this.fallback;
    const object = (key ?? JSON.parse(id.slice(1))) as KeyObject;
    const value = object[this.field];
    return (typeof value === 'string' ? this.byName.get(value) : undefined) ?? this.fallback;
  }

  /** `route`, refusing a key no mount takes with ERR_INVALID_KEY. */
  mountOf(id: string, key?: Key): number {
    const index = this.route(id, key);
    if (index === NO_MOUNT) throw this.noMount(id);
    return index;
  }

  /** The error for a key no mount takes. */
  noMount(id: string): InvalidKeyError {
    const what = isObjectKeyId(id)
      ? this.field === undefined
        ? 'an object key (no field setting routes object keys)'
        : `an object key whose field ${JSON.stringify(this.field)} names no mount`
      : `the key ${JSON.stringify(id.length > 80 ? id.slice(0, 80) + '...' : id)} (no mount name is a prefix of it)`;
    return new InvalidKeyError(`mount: no mount takes ${what}, and there is no default mount`);
  }

  /** The mount name that takes the key with canonical id `id` ('default' for the default), or undefined. */
  nameOf(id: string): string | undefined {
    if (!isObjectKeyId(id)) {
      const mount = this.byLength.find((m) => id.startsWith(m.name));
      if (mount !== undefined) return mount.name;
    } else if (this.field !== undefined) {
      const value = (JSON.parse(id.slice(1)) as KeyObject)[this.field];
      if (typeof value === 'string' && this.byName.has(value)) return value;
    }
    return this.fallback === NO_MOUNT ? undefined : 'default';
  }

  private routeString(key: string): number {
    for (const mount of this.byLength) if (key.startsWith(mount.name)) return mount.index;
    return this.fallback;
  }

  /** The mounts `selector` can match entries in, in mount order; throws ERR_INVALID_KEY for an exact key no mount takes. */
  mountsFor(selector: Selector): readonly number[] {
    switch (selector.kind) {
      case 'none':
        return [];
      case 'exact':
        // An exact key no mount takes is refused as by every exact call (get(key), del(key), count(key)).
        return [this.mountOf(selector.id)];
      case 'glob':
        return this.mountsForPrefix(literalPrefix(selector.pattern));
      case 'query':
        return this.mountsForQuery(selector.constraints, selector.orConstraints);
      default:
        return this.all;
    }
  }

  /** The mounts that can hold a string key starting with `prefix`. */
  private mountsForPrefix(prefix: string): number[] {
    const touched = new Set<number>();
    // The longest mount name that prefixes `prefix` takes every key starting with it (unless a
    // longer name, which starts with `prefix`, takes some of them); no shorter one can.
    const owner = this.byLength.find((m) => prefix.startsWith(m.name));
    if (owner !== undefined) touched.add(owner.index);
    else if (this.fallback !== NO_MOUNT) touched.add(this.fallback);
    for (const { name, index } of this.names) if (name.startsWith(prefix)) touched.add(index);
    return this.all.filter((index) => touched.has(index));
  }

  /** The mounts a query can match in: narrowed only by an equality or `$in` on `field` (in every `$or` branch). */
  private mountsForQuery(constraints: IndexConstraint[], orConstraints: IndexConstraint[][] | undefined): readonly number[] {
    if (this.field === undefined) return this.all;
    const values = this.fieldValues(constraints);
    let allowed: Set<number> | undefined = values && this.namedBy(values);
    if (allowed === undefined && orConstraints !== undefined) {
      const union = new Set<number>();
      for (const branch of orConstraints) {
        const branchValues = this.fieldValues(branch);
        if (branchValues === undefined) return this.all;
        for (const index of this.namedBy(branchValues)) union.add(index);
      }
      allowed = union;
    }
    if (allowed === undefined) return this.all;
    // The default may hold keys whose field is an array holding the value: always asked.
    if (this.fallback !== NO_MOUNT) allowed.add(this.fallback);
    return this.all.filter((index) => allowed!.has(index));
  }

  private fieldValues(constraints: IndexConstraint[]): IndexConstraint['values'] | undefined {
    return constraints.find((c) => c.path === this.field)?.values;
  }

  private namedBy(values: IndexConstraint['values']): Set<number> {
    const indexes = new Set<number>();
    for (const value of values) {
      const index = typeof value === 'string' ? this.byName.get(value) : undefined;
      if (index !== undefined) indexes.add(index);
    }
    return indexes;
  }
}

/** What every key a glob matches starts with: the pattern up to its first special character. */
export function literalPrefix(pattern: string): string {
  const end = pattern.search(/[*?[\\]/);
  return end === -1 ? pattern : pattern.slice(0, end);
}
