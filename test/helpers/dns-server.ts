// A small authoritative DNS server on loopback UDP (RFC 1035 wire format): enough for A, AAAA and SRV,
// for the tests of `herald check dns` (test/cli/check.test.ts, test/s2s/check.test.ts). Names not in
// its zone get NXDOMAIN; a name in it without records of the type asked, an empty answer. An SRV
// target "." (the service is not offered) is the root name.

import { createSocket, type Socket } from "node:dgram";

export type Rr = { type: "A"; ip: string } | { type: "AAAA"; ip: string } | { type: "SRV"; priority: number; weight: number; port: number; target: string };
const TYPES = { A: 1, AAAA: 28, SRV: 33 } as const;

function encodeName(name: string): Buffer {
  const parts = name.split(".").filter(Boolean).map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function rdata(rr: Rr): Buffer {
  if (rr.type === "A") return Buffer.from(rr.ip.split(".").map(Number));
  if (rr.type === "AAAA") {
    const [head, tail = ""] = rr.ip.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return b;
  }
  const head = Buffer.alloc(6);
  head.writeUInt16BE(rr.priority, 0);
  head.writeUInt16BE(rr.weight, 2);
  head.writeUInt16BE(rr.port, 4);
  return Buffer.concat([head, encodeName(rr.target)]);
}

/** Serve `zone` (lower-case names); `asked` lists every question as "name/type". */
export function startDns(zone: Record<string, Rr[]>): Promise<{ port: number; socket: Socket; asked: string[] }> {
  const socket = createSocket("udp4");
  const asked: string[] = [];
  socket.on("message", (msg, rinfo) => {
    // Question: name labels from offset 12, then type and class.
    let off = 12;
    const labels: string[] = [];
    while (msg[off] !== 0) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString());
      off += msg[off] + 1;
    }
    const qEnd = off + 5;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join(".").toLowerCase();
    asked.push(`${name}/${qtype}`);
    const all = zone[name];
    const answers = (all ?? []).filter((rr) => TYPES[rr.type] === qtype);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8400 | (all === undefined ? 3 : 0), 2); // QR, AA; NXDOMAIN for unknown names
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const body = answers.map((rr) => {
      const data = rdata(rr);
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(TYPES[rr.type], 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt32BE(60, 4);
      fixed.writeUInt16BE(data.length, 8);
      return Buffer.concat([Buffer.from([0xc0, 0x0c]), fixed, data]);
    });
    socket.send(Buffer.concat([header, msg.subarray(12, qEnd), ...body]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => socket.bind(0, "127.0.0.1", () => resolve({ port: socket.address().port, socket, asked })));
}
