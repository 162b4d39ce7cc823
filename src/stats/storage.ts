// Store write latency: wraps a storage driver so every write (keyval set, map set/setMany/clear,
// archive append/appendMany/delete/truncate, user purge) is timed into a histogram, whatever the driver.

import type { ArchiveStore, KeyvalStore, MapStore, StorageDriver } from "../storage/types.js";
import type { MetricFamily } from "./metrics.js";

export function timedStorage(driver: StorageDriver, histogram: MetricFamily): StorageDriver {
  const time = <R>(kind: string, run: () => Promise<R>): Promise<R> => {
    const t0 = performance.now();
    const done = () => histogram.observe([driver.name, kind], (performance.now() - t0) / 1000);
    return run().finally(done);
  };
  return {
    get name() {
      return driver.name;
    },
    open: () => driver.open(),
    close: () => driver.close(),
    clearAll: () => driver.clearAll(),
    upgradeValues: (host, kind, store, version, upgrade) => driver.upgradeValues(host, kind, store, version, upgrade),
    purgeUser: (host, user) => time("purge", () => driver.purgeUser(host, user)),
    keyval<T>(host: string, store: string): KeyvalStore<T> {
      const s = driver.keyval<T>(host, store);
      return {
        get: (user) => s.get(user),
        set: (user, value) => time("keyval", () => s.set(user, value)),
        users: () => s.users(),
      };
    },
    map<T>(host: string, store: string): MapStore<T> {
      const s = driver.map<T>(host, store);
      return {
        get: (user, key) => s.get(user, key),
        set: (user, key, value) => time("map", () => s.set(user, key, value)),
        setMany: (user, entries) => time("map", () => s.setMany(user, entries)),
        getAll: (user) => s.getAll(user),
        clear: (user) => time("map", () => s.clear(user)),
        users: () => s.users(),
      };
    },
    archive<T>(host: string, store: string): ArchiveStore<T> {
      const s = driver.archive<T>(host, store);
      return {
        append: (user, value, options) => time("archive", () => s.append(user, value, options)),
        appendMany: (user, entries, options) => time("archive", () => s.appendMany(user, entries, options)),
        find: (user, query) => s.find(user, query),
        get: (user, id) => s.get(user, id),
        count: (user, query) => s.count(user, query),
        delete: (user, query) => time("archive", () => s.delete(user, query)),
        truncate: (user, keep) => time("archive", () => s.truncate(user, keep)),
        users: () => s.users(),
      };
    },
  };
}
