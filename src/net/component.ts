// External components (XEP-0114, "Jabber Component Protocol"): a process such as a gateway connects
// to `component_ports` (5347, on loopback unless `component_interfaces` says otherwise) and names the
// domain it serves (`Component "gateway.example.com"` without a module). Its <handshake/> goes to the
// stream feature registered for "component" streams on that host (modules/mod_component, autoloaded
// on external components: the secret, the conflict policy); once it accepts, the component's domain
// is routed to this stream and what it sends is routed like any stanza, from JIDs at its domain or
// its subdomains only.
//
// The stream itself (parser, limits, header, errors, flow control) is the shared stream layer
// (./stream.ts); XEP-0114 streams have no features and no restarts.

import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Host } from "../hosts/host.js";
import type { Router } from "../router/router.js";
import { nextSessionId, type StanzaSink } from "../sessions/session.js";
import type { Logger, RateLimitedLog } from "../util/logger.js";
import { jidHost, jidPrep, namePrep } from "../util/jid.js";
import { errorReply, serialize, type Element } from "../xml/stanza.js";
import type { BindAddress } from "./interfaces.js";
import { SocketTransport, closeServer, listenOn, type Listener } from "./listeners.js";
import { CertStore } from "./certs.js";
import { XmppStream, type FeatureProvider, type StreamLimits } from "./stream.js";
import type { Transport } from "./transport.js";

export const NS_COMPONENT = "jabber:component:accept";
const NS_CLIENT = "jabber:client";

export interface ComponentOptions {
  /** validate_from_addresses: stanzas from outside the component's domain end the stream. */
  validateFrom: boolean;
  limits: StreamLimits;
  maxSendBuffer: number;
}

export interface ComponentContext {
  hosts: Map<string, Host>;
  router: Router;
  log: Logger;
  failureLog: RateLimitedLog;
  /** Every live component stream, so shutdown can close them. */
  streams: Set<ComponentStream>;
  /** The options of a component's host; undefined: before the stream named one. */
  options(host: string | undefined): ComponentOptions;
}

/** Component streams are plain TCP, on loopback by default (XEP-0114 has no STARTTLS): no certificates. */
const NO_CERTIFICATES = new CertStore();

export class ComponentStream extends XmppStream implements StanzaSink {
  readonly id: string;
  readonly kind = "component" as const;
  /** The session type (Prosody's "component"). */
  readonly type = "component" as const;
  /** The component's domain, once its stream is open. */
  host = "";
  authenticated = false;
  protected readonly contentNs = NS_COMPONENT;

  constructor(
    transport: Transport,
    private readonly ctx: ComponentContext,
  ) {
    const id = nextSessionId("component");
    super(transport, ctx.log.child(id), ctx.failureLog);
    this.id = id;
    this.newParser();
    ctx.streams.add(this);
    this.log.debug(`New component connection from ${transport.remoteAddress}`);
  }

  get encryptionRequired(): boolean {
    return false;
  }

  protected limits(): StreamLimits {
    return this.ctx.options(this.hostObj?.name).limits;
  }

  protected override describePeer(): string {
    return `component ${this.host || "(not yet named)"} at ${this.remoteAddress} (${this.id})`;
  }

  protected openStream(attrs: Record<string, string>): void {
    if (this.hostObj) {
      this.close({ condition: "policy-violation", text: "A component stream is opened once" });
      return;
    }
    this.requestedTo = attrs.to;
    if (attrs.to === undefined) {
      this.close({ condition: "improper-addressing", text: "A 'to' attribute is required on stream headers" });
      return;
    }
    const name = namePrep(attrs.to);
    const host = name === undefined ? undefined : this.ctx.hosts.get(name);
    if (!host || !host.external) {
      // RFC 6120 §4.9.3.6; XEP-0114 §3.1: only domains configured as external components.
      this.close({ condition: "host-unknown", text: `${attrs.to} does not match any configured external component` });
      return;
    }
    this.hostObj = host;
    this.host = host.name;
    this.sendHeader(host.name);
    this.state = "negotiating";
    this.startKeepalive();
  }

  protected override async handleElement(el: Element): Promise<void> {
    // COMPAT: some component libraries qualify their stanzas with jabber:client; Prosody takes them too.
    if (el.attrs.xmlns === NS_CLIENT && (el.name === "iq" || el.name === "message" || el.name === "presence")) {
      delete el.attrs.xmlns;
    }
    return super.handleElement(el);
  }

  protected async handleStanza(el: Element): Promise<void> {
    if (!this.authenticated) {
      if (el.name !== "handshake") {
        this.close({ condition: "not-authorized", text: "Send the handshake first" });
        return;
      }
      return this.handshake(el);
    }
    if (el.name !== "iq" && el.name !== "message" && el.name !== "presence") {
      this.close({ condition: "unsupported-stanza-type", text: `<${el.name}/> is not a stanza` });
      return;
    }
    const opts = this.ctx.options(this.host);
    const attrs = el.attrs;
    if (attrs.from === undefined) {
      attrs.from = this.host; // COMPAT: components that leave out 'from' (Prosody accepts them too)
    } else {
      const from = jidPrep(attrs.from);
      const domain = from === undefined ? undefined : jidHost(from);
      if (from === undefined || domain === undefined || (opts.validateFrom && domain !== this.host && !domain.endsWith(`.${this.host}`))) {
        // RFC 6120 §4.9.3.9: the component may only speak for its own domain (and its subdomains).
        this.close({ condition: "invalid-from", text: `Component tried to send from <${attrs.from}>, which is not in <${this.host}>` });
        return;
      }
      attrs.from = from;
    }
    if (attrs.to === undefined) {
      this.send(errorReply(el, "modify", "bad-request", "Components must give a 'to' address on stanzas"));
      return;
    }
    const to = jidPrep(attrs.to);
    if (to === undefined) {
      this.send(errorReply(el, "modify", "jid-malformed", "Invalid destination JID"));
      return;
    }
    attrs.to = to;
    await this.ctx.router.processChecked(this, el);
  }

  /**
   * XEP-0114 §3.2: the handshake, the component stream's only negotiation, goes to the provider the
   * host's modules registered for "component" streams (mod_component) with the stream's namespace.
   */
  private async handshake(el: Element): Promise<void> {
    const provider = (this.providers as readonly FeatureProvider<this>[]).find((p) => p.handle && p.namespaces?.includes(NS_COMPONENT));
    if (!provider) {
      this.log.warn(`Component ${this.host} tried to connect, but no module handles the handshake (is mod_component disabled?)`);
      this.close({ condition: "not-authorized", text: `No handshake handler for ${this.host}` });
      return;
    }
    await provider.handle!(this, el);
  }

  /** The handshake failed (mod_component): logged per address at a limited rate, then <not-authorized/>. */
  refuseHandshake(text?: string, logLine?: string): void {
    if (logLine) this.failureLog.warn(`component ${this.remoteAddress}`, logLine);
    this.close({ condition: "not-authorized", text });
  }

  /** The handshake succeeded (mod_component): the component's domain is routed to this stream. */
  acceptHandshake(): void {
    const host = this.hostObj!;
    this.authenticated = true;
    this.state = "authenticated";
    host.component = this;
    this.log = this.ctx.log.child(`${this.id} ${host.name}`);
    this.log.info(`External component ${host.name} connected from ${this.remoteAddress}`);
    this.writeRaw("<handshake/>");
  }

  /** Deliver a stanza to the component. */
  send(stanza: Element): boolean {
    if (this.state === "closed" || !this.authenticated) return false;
    if (stanza.attrs.xmlns !== undefined && stanza.attrs.xmlns !== NS_COMPONENT && (stanza.name === "iq" || stanza.name === "message" || stanza.name === "presence")) {
      const copy = stanza.shallowClone();
      delete copy.attrs.xmlns; // stanzas are in the stream's namespace
      this.writeRaw(serialize(copy));
    } else {
      this.writeRaw(serialize(stanza));
    }
    return true;
  }

  protected onTeardown(reason: string): void {
    this.ctx.streams.delete(this);
    const host = this.hostObj;
    if (host && host.component === this) {
      host.component = undefined;
      this.log.info(`External component ${host.name} disconnected: ${reason}`);
    }
  }
}

/** A component listener (component_ports on component_interfaces). */
export async function listenComponents(ctx: ComponentContext, port: number, address: BindAddress): Promise<Listener> {
  const server: NetServer = createNetServer((socket: Socket) => {
    const transport = new SocketTransport(socket, NO_CERTIFICATES, false, ctx.options(undefined).maxSendBuffer);
    transport.attach(new ComponentStream(transport, ctx));
  });
  const bound = await listenOn(server, port, address);
  ctx.log.info(`Listening for external components on [${address.name}]:${bound}`);
  return { kind: "component", address: address.name, port: bound, close: () => closeServer(server) };
}
