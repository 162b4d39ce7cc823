// A tiny XMPP server for the runner's own tests (not for production): real TCP on 127.0.0.1, any
// user logs in with SASL PLAIN (optionally after STARTTLS), binds a resource, and from then on each
// stanza a client sends is handed to `onStanza`, which answers with canned XML.
// XMPP pings (the runner's cross-client barrier) are answered automatically unless `answerPings` is false.

import net from "node:net";
import tls from "node:tls";
import { NS_STREAM, XmlStream } from "../../src/xml/parser.js";
import type { Element } from "../../src/xml/stanza.js";
import { NS_SASL, NS_BIND, NS_TLS } from "../../src/xml/ns.js";

export interface FakeSession {
  /** Full JID once bound. */
  jid: string;
  username: string;
  /** Send raw XML to this client. */
  send(xml: string): void;
  /** Close the stream (optionally with a stream error condition). */
  close(streamError?: string): void;
}

export interface FakeServerOptions {
  /** Called for every stanza a bound client sends (pings included when answerPings is false). */
  onStanza?: (stanza: Element, session: FakeSession, server: FakeServer) => void;
  /** Answer `<ping xmlns='urn:xmpp:ping'/>` iqs with a result (default true). */
  answerPings?: boolean;
  /** Offer (and require) STARTTLS with this certificate. */
  tls?: { cert: string; key: string };
  /** Refuse authentication for these usernames. */
  refuse?: string[];
}

export interface FakeServer {
  port: number;
  sessions: FakeSession[];
  /** Every stanza received from bound clients, as "jid: xml", in arrival order. */
  log: string[];
  /** Connections currently open. */
  connections(): number;
  close(): Promise<void>;
}

export async function startFakeServer(opts: FakeServerOptions = {}): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  let counter = 0;
  let resources = 0;
  const server: FakeServer = {
    port: 0,
    sessions: [],
    log: [],
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => resolve());
      }),
  };

  const tcp = net.createServer((raw) => {
    sockets.add(raw);
    raw.on("close", () => sockets.delete(raw));
    raw.on("error", () => undefined);
    let socket: net.Socket = raw;
    let stage: "tls" | "auth" | "bind" | "bound" = opts.tls ? "tls" : "auth";
    let parser: XmlStream;
    const session: FakeSession = {
      jid: "",
      username: "",
      send: (xml) => {
        if (!socket.destroyed) socket.write(xml);
      },
      close: (streamError) => {
        if (streamError) session.send(`<stream:error><${streamError} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`);
        session.send("</stream:stream>");
        socket.end();
      },
    };
    const onData = (chunk: Buffer): void => parser.write(chunk);

    const newParser = (): void => {
      parser = new XmlStream(
        {
          streamStart: () => {
            session.send(
              `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAM}' ` +
                `from='localhost' id='s${++counter}' version='1.0'>`,
            );
            if (stage === "tls") session.send(`<stream:features><starttls xmlns='${NS_TLS}'><required/></starttls></stream:features>`);
            else if (stage === "auth") {
              session.send(`<stream:features><mechanisms xmlns='${NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`);
            } else session.send(`<stream:features><bind xmlns='${NS_BIND}'/></stream:features>`);
          },
          stanza: (el) => handle(el),
          streamEnd: () => {
            session.send("</stream:stream>");
            socket.end();
          },
          error: () => socket.destroy(),
        },
        { framing: "stream", sync: true },
      );
    };

    const handle = (el: Element): void => {
      if (stage === "tls") {
        if (el.name !== "starttls" || !opts.tls) return void socket.destroy();
        session.send(`<proceed xmlns='${NS_TLS}'/>`);
        socket.off("data", onData);
        const secure = new tls.TLSSocket(socket, { isServer: true, cert: opts.tls.cert, key: opts.tls.key });
        secure.on("error", () => undefined);
        socket = secure;
        stage = "auth";
        newParser();
        secure.on("data", onData);
        return;
      }
      if (stage === "auth") {
        if (el.name !== "auth" || el.attrs.mechanism !== "PLAIN") return void socket.destroy();
        const [, user = ""] = Buffer.from(el.getText(), "base64").toString("utf8").split("\0");
        if (opts.refuse?.includes(user)) {
          session.send(`<failure xmlns='${NS_SASL}'><not-authorized/></failure>`);
          return;
        }
        session.username = user;
        session.send(`<success xmlns='${NS_SASL}'/>`);
        stage = "bind";
        newParser();
        return;
      }
      if (stage === "bind") {
        const bind = el.getChild("bind", NS_BIND);
        if (el.name !== "iq" || !bind) return void socket.destroy();
        const resource = bind.getChildText("resource") || `r${++resources}`;
        session.jid = `${session.username}@localhost/${resource}`;
        session.send(`<iq type='result' id='${el.attrs.id}'><bind xmlns='${NS_BIND}'><jid>${session.jid}</jid></bind></iq>`);
        stage = "bound";
        server.sessions.push(session);
        return;
      }
      server.log.push(`${session.jid}: ${el.toString()}`);
      if (opts.answerPings !== false && el.name === "iq" && el.getChild("ping", "urn:xmpp:ping")) {
        session.send(`<iq type='result' id='${el.attrs.id}' from='localhost' to='${session.jid}'/>`);
        return;
      }
      opts.onStanza?.(el, session, server);
    };

    newParser();
    socket.on("data", onData);
  });

  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  server.port = (tcp.address() as net.AddressInfo).port;
  return server;
}
