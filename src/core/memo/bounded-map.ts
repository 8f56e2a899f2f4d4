/**
 * A Map of at most `limit` entries for in-process memos: `set` makes an entry the newest (even when the key was
 * there already), and storing one past the limit drops the least recently stored.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.limit) super.delete(this.keys().next().value as K);
    return this;
  }
}
