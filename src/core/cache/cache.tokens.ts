/** The Redis connection of the cache store (`cache-manager-ioredis-yet`), for reads on the hot path. */
export const CACHE_CLIENT = Symbol('CACHE_CLIENT');
