// Loads and unloads modules per host, recording everything each registers.

import type { FeatureProvider } from "../net/stream.js";
import type { EventBus, EventName } from "../events/bus.js";
import type { Host } from "../hosts/host.js";
import type { Router } from "../router/router.js";
import type { StorageDriver } from "../storage/types.js";
import type { Logger } from "../util/logger.js";
import type { OptionReader } from "../config/options.js";
import type { Element } from "../xml/stanza.js";
import type { AccountStore } from "../auth/accounts.js";
import type { IqHandler, IqOptions, IqTarget, ModuleApi, ModuleDefinition, ModuleRegistry, ServiceMap, Timer } from "./api.js";
import { LaterAnswer } from "./api.js";
import type { StanzaEvent } from "../router/router.js";
import { reply as resultOf, StanzaError } from "../xml/stanza.js";
import { jidBare, jidPrep } from "../util/jid.js";
import type { MetricsRegistry } from "../stats/metrics.js";
import type { HttpRoutes } from "../net/http-routes.js";
import type { AuthThrottle } from "../net/limits.js";

/** What the manager needs from the server. */
export interface ModuleContext {
  hosts: Map<string, Host>;
  globalBus: EventBus;
  router: Router;
  storage: StorageDriver;
  log: Logger;
  globalOptions: OptionReader;
  accounts: (host: string) => AccountStore;
  admins: () => Set<string>;
  started: number;
  version: string;
  metrics: MetricsRegistry;
  http: HttpRoutes;
  dataPath: string;
  /** The server's password-attempt throttle (the one SASL uses). */
  authThrottle: () => AuthThrottle;
}

interface Loaded {
  name: string;
  host: string;
  cleanups: Array<() => void | Promise<void>>;
}

export class ModuleManager {
  private loaded = new Map<string, Loaded>(); // "<host>\0<name>"
  /** Services modules provide, by "<host>\0<name>". */
  private services = new Map<string, unknown>();
  /** module:shared state, by "<module>\0<key>": lives as long as the server. */
  private sharedState = new Map<string, unknown>();
  /** The modules that asked for a module with `depends`: "<host>\0<name>" -> their names. */
  private dependents = new Map<string, Set<string>>();

  constructor(
    private readonly registry: ModuleRegistry,
    private readonly ctx: ModuleContext,
  ) {}

  has(name: string): boolean {
    return name in this.registry;
  }

  isLoaded(host: string, name: string): boolean {
    return this.loaded.has(`${host}\0${name}`);
  }

  async load(host: Host, name: string): Promise<void> {
    const key = `${host.name}\0${name}`;
    if (this.loaded.has(key)) return;
    const factory = this.registry[name];
    if (!factory) throw new Error(`No module named '${name}'`);
    const def: ModuleDefinition = (await factory()).default;
    const record: Loaded = { name, host: host.name, cleanups: [] };
    this.loaded.set(key, record);
    host.modules.add(name);
    const api = this.makeApi(host, name, record);
    try {
      await def.load(api);
    } catch (err) {
      await this.unload(host, name);
      throw err;
    }
    this.ctx.log.debug(`Loaded module ${name} on ${host.name}`);
  }

  async unload(host: Host, name: string): Promise<void> {
    const key = `${host.name}\0${name}`;
    const record = this.loaded.get(key);
    if (!record) return;
    this.loaded.delete(key);
    host.modules.delete(name);
    // Undo in reverse order of registration.
    for (const fn of record.cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        this.ctx.log.error(`Error unloading ${name} on ${host.name}: ${(err as Error).message}`);
      }
    }
  }

  async unloadAll(): Promise<void> {
    for (const record of [...this.loaded.values()].reverse()) {
      const host = this.ctx.hosts.get(record.host);
      if (host) await this.unload(host, record.name);
    }
  }

  /** The service `name` provides on `host`, if loaded. */
  service<K extends keyof ServiceMap>(host: string, name: K): ServiceMap[K] | undefined;
  service(host: string, name: string): unknown;
  service(host: string, name: string): unknown {
    return this.services.get(`${host}\0${name}`);
  }

  /** The loaded modules of a host that depend on this one (it stays while they are loaded). */
  neededBy(host: string, name: string): string[] {
    return [...(this.dependents.get(`${host}\0${name}`) ?? [])].filter((m) => this.isLoaded(host, m));
  }

  private makeApi(host: Host, name: string, record: Loaded): ModuleApi {
    const ctx = this.ctx;
    const owner = `mod_${name}`;
    const cleanup = (fn: () => void | Promise<void>) => record.cleanups.push(fn);
    // The handler types are checked where modules call hook(); here they are passed through.
    const hook = (bus: EventBus, event: string, fn: unknown, priority?: number) => {
      const off = bus.on(event as EventName, fn as never, priority);
      cleanup(off);
    };
    const iqHandler = (type: "get" | "set") => (ns: string, elName: string, handler: IqHandler, opts: IqOptions = {}) => {
      const targets: IqTarget[] = opts.to === undefined ? ["host"] : Array.isArray(opts.to) ? opts.to : [opts.to];
      const run = async (ev: StanzaEvent) => {
        const after: Array<() => void | Promise<void>> = [];
        let answer;
        try {
          answer = await handler({ ...ev, payload: ev.stanza.firstElement()!, afterReply: (fn) => after.push(fn) });
        } catch (err) {
          if (!(err instanceof StanzaError)) throw err;
          answer = err;
        }
        if (answer === undefined) return undefined;
        if (answer instanceof LaterAnswer) {
          void answer.answer
            .catch((err: unknown) => {
              if (err instanceof StanzaError) return err;
              log.error(`iq handler for ${ns}:${elName} failed: ${(err as Error)?.stack ?? err}`);
              return new StanzaError("wait", "internal-server-error");
            })
            .then(async (later) => {
              api.reply(ev, later instanceof StanzaError ? later.replyTo(ev.stanza) : resultWith(ev.stanza, later));
              await runAfter(after);
            });
          return true as const;
        }
        let out;
        if (answer instanceof StanzaError) out = answer.replyTo(ev.stanza);
        else {
          out = resultOf(ev.stanza);
          if (answer !== null) out.add(answer);
        }
        api.reply(ev, out);
        // In order, awaited: the sender's next stanza waits for them, as it waits for the handler.
        await runAfter(after);
        return true as const;
      };
      const resultWith = (stanza: Element, payload: Element | null) => {
        const r = resultOf(stanza);
        if (payload !== null) r.add(payload);
        return r;
      };
      const runAfter = async (after: Array<() => void | Promise<void>>) => {
        for (const fn of after) {
          try {
            await fn();
          } catch (err) {
            log.error(`after-reply action for ${ns}:${elName} failed: ${(err as Error).stack}`);
          }
        }
      };
      for (const t of targets) hook(host.bus, `iq-${type}/${t}/${ns}:${elName}`, run, opts.priority);
    };
    const origin = { type: "local" as const, id: `${host.name}/${name}`, host: host.name };
    const log = host.log.child(`${host.name}:${name}`);
    let accounts: AccountStore | undefined;
    const api: ModuleApi = {
      name,
      host: host.name,
      hostKind: host.kind,
      log,
      options: host.options,
      globalOptions: ctx.globalOptions,
      depends: (async (dep: string) => {
        await this.load(host, dep);
        const key = `${host.name}\0${dep}`;
        const set = this.dependents.get(key) ?? new Set<string>();
        set.add(name);
        this.dependents.set(key, set);
        cleanup(() => void this.dependents.get(key)?.delete(name));
        return this.services.get(key);
      }) as ModuleApi["depends"],
      provides: (key, service) => {
        const k = `${host.name}\0${key}`;
        if (this.services.has(k)) throw new Error(`${key} is already provided on ${host.name}`);
        this.services.set(k, service);
        cleanup(() => {
          if (this.services.get(k) === service) this.services.delete(k);
        });
      },
      serviceOn: (other, key) => this.services.get(`${other}\0${key}`) as never,
      shared: <T>(key: string, init: () => T): T => {
        const k = `${name}\0${key}`;
        if (!this.sharedState.has(k)) this.sharedState.set(k, init());
        return this.sharedState.get(k) as T;
      },
      hook: (event, fn, priority) => hook(host.bus, event, fn, priority),
      hookOn: (other, event, fn, priority) => {
        const target = ctx.hosts.get(other);
        if (!target) return false;
        hook(target.bus, event, fn, priority);
        return true;
      },
      hookGlobal: (event, fn, priority) => hook(ctx.globalBus, event, fn, priority),
      iq: { get: iqHandler("get"), set: iqHandler("set") },
      fire: (event, data) => host.bus.fire(event, data),
      fireGlobal: (event, data) => ctx.globalBus.fire(event, data),
      fireOn: async (other, event, data) => ctx.hosts.get(other)?.bus.fire(event, data),
      addStreamFeature: (provider, kinds, priority) => cleanup(host.streamFeatures.add(provider as FeatureProvider<never>, kinds, priority)),
      addFeature: (feature) => {
        host.disco.addFeature(owner, feature);
        cleanup(() => host.disco.removeOwner(owner));
      },
      addIdentity: (category, type, idName) => {
        host.disco.addIdentity(owner, { category, type, name: idName });
        cleanup(() => host.disco.removeOwner(owner));
      },
      addDiscoExtension: (form) => {
        host.disco.addExtension(owner, form);
        cleanup(() => host.disco.removeOwner(owner));
      },
      addDiscoItem: (jid, itemName) => {
        host.discoItems.set(jid, { name: itemName, owner });
        cleanup(() => {
          if (host.discoItems.get(jid)?.owner === owner) host.discoItems.delete(jid);
        });
      },
      discoInfo: () => ({
        features: host.disco.listFeatures(),
        identities: host.disco.listIdentities(),
        extensions: host.disco.listExtensions() as Element[],
      }),
      discoItems: () => [...host.discoItems].map(([jid, v]) => (v.name === undefined ? { jid } : { jid, name: v.name })),
      openKeyval: (store) => ctx.storage.keyval(host.name, store),
      openMap: (store) => ctx.storage.map(host.name, store),
      openArchive: (store) => ctx.storage.archive(host.name, store),
      upgradeStore: (kind, store, version, upgrade) => ctx.storage.upgradeValues(host.name, kind, store, version, upgrade),
      send: (stanza) => {
        void ctx.router.post(stanza, origin).catch((err) => log.error(`send failed: ${(err as Error).stack}`));
      },
      post: (stanza, opts) => ctx.router.post(stanza, origin, opts),
      reply: (event, stanza) => {
        const o = event.origin as { send?: (s: Element) => boolean };
        if (typeof o.send === "function") o.send(stanza);
        else api.send(stanza);
        return true;
      },
      sendIq: (iq, timeoutMs) => {
        if (iq.attrs.from === undefined) iq.attrs.from = host.name;
        return ctx.router.sendIq(iq, origin, timeoutMs);
      },
      addTimer: (ms, fn) => {
        let handle: NodeJS.Timeout | undefined;
        let cancelled = false;
        const schedule = (delay: number) => {
          handle = setTimeout(async () => {
            if (cancelled) return;
            let next: number | void = undefined;
            try {
              next = await fn();
            } catch (err) {
              log.error(`timer failed: ${(err as Error).stack}`);
            }
            if (typeof next === "number" && !cancelled) schedule(next);
            else forget(); // done: nothing to undo on unload
          }, delay);
          handle.unref?.();
        };
        const timer: Timer = {
          cancel: () => {
            cancelled = true;
            if (handle) clearTimeout(handle);
            forget();
          },
        };
        // One-shot timers (a module may make many) leave nothing behind once they have run.
        const forget = () => {
          const i = record.cleanups.indexOf(timer.cancel);
          if (i >= 0) record.cleanups.splice(i, 1);
        };
        schedule(ms);
        cleanup(timer.cancel);
        return timer;
      },
      onUnload: (fn) => cleanup(fn),
      sessionsOf: (username) => host.sessionsOf(username),
      session: (username, resource) => host.session(username, resource),
      allSessions: () => host.allSessions(),
      isAdmin: (jid) => {
        const bare = jidPrep(jidBare(jid));
        return bare !== undefined && ctx.admins().has(bare);
      },
      hostNames: () => [...ctx.hosts.keys()],
      get accounts() {
        accounts ??= ctx.accounts(host.name);
        return accounts;
      },
      accountsOf: (name) => (ctx.hosts.get(name)?.kind === "local" ? ctx.accounts(name) : undefined),
      metrics: ctx.metrics,
      onCollect: (fn) => cleanup(ctx.metrics.onCollect(fn)),
      http: {
        route: (method, pathPrefix, handler) => cleanup(ctx.http.add(method, pathPrefix, handler)),
        url: (path) =>
          ctx.http.url(path, {
            host: host.name,
            externalUrl: host.options.string("http_external_url", "") || undefined,
            httpHost: host.options.string("http_host", "") || undefined,
          }),
      },
      dataPath: ctx.dataPath,
      get authThrottle() {
        return ctx.authThrottle();
      },
      serverStarted: ctx.started,
      serverVersion: ctx.version,
    };
    return api;
  }
}
