// Herald's test harness: a real server with clients over sockets or in memory (server.ts), the
// in-memory transport (memory-transport.ts) and the raw XMPP client (../helpers/xmpp-client.ts).
export * from "./server.js";
export { connectInMemory, type MemoryConnectOptions } from "./memory-transport.js";
export { RawClient } from "../helpers/xmpp-client.js";
