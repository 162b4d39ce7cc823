// The stream features a host offers, by kind of stream: what the stream-feature modules (mod_tls,
// mod_saslauth, mod_bind, mod_dialback, mod_s2s, mod_component) registered with module.addStreamFeature. The
// stream layer (src/net/stream.ts) asks it for the providers of a stream when it assembles
// <stream:features/> and when a stream-level element arrives.

import type { FeatureProvider } from "../net/stream.js";

/** The streams a feature can serve: client streams, incoming server streams, external component streams (the handshake). */
export type FeatureStreamKind = "c2s" | "s2sin" | "component";

interface Entry {
  provider: FeatureProvider<never>;
  kinds: readonly FeatureStreamKind[];
  priority: number;
  seq: number;
}

export class StreamFeatures {
  private entries: Entry[] = [];
  private seq = 0;
  private cache = new Map<string, readonly FeatureProvider<never>[]>();

  /** Register a provider for these kinds of stream; higher priority is offered first. Returns its removal. */
  add(provider: FeatureProvider<never>, kinds: readonly FeatureStreamKind[], priority = 0): () => void {
    const entry: Entry = { provider, kinds, priority, seq: this.seq++ };
    this.entries.push(entry);
    this.entries.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.cache.clear();
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
      this.cache.clear();
    };
  }

  /** The providers for a kind of stream, in the order they are offered. */
  for(kind: string): readonly FeatureProvider<never>[] {
    let list = this.cache.get(kind);
    if (!list) {
      list = this.entries.filter((e) => (e.kinds as readonly string[]).includes(kind)).map((e) => e.provider);
      this.cache.set(kind, list);
    }
    return list;
  }
}
