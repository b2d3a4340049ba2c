// Sends records over the fluentd Forward protocol with @fluent-org/logger (the fluent
// organisation's Node client), in any event mode, with acknowledgements and the shared-key
// handshake when asked. Driven by tests/receivers.rs.
//
// Usage: node forward_send.mjs --port N --records FILE --mode Message|Forward|PackedForward|CompressedPackedForward
//                              [--ack] [--shared-key KEY]
// FILE is NDJSON, one record object per line. With --ack, every emit resolves only when the
// server has answered {"ack": chunk}. Prints {"sent": N} and exits 1 on any error.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { FluentClient, EventTime } from "@fluent-org/logger";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    records: { type: "string" },
    mode: { type: "string", default: "PackedForward" },
    ack: { type: "boolean", default: false },
    "shared-key": { type: "string" },
  },
});

const records = readFileSync(args.records, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l));

const client = new FluentClient("kubernetes", {
  eventMode: args.mode,
  socket: { host: "127.0.0.1", port: Number(args.port), timeout: 30000, reconnect: { maxDelay: 500 } },
  ack: args.ack ? { ackTimeout: 30000 } : undefined,
  security: args["shared-key"] ? { clientHostname: "receivers-test-client", sharedKey: args["shared-key"] } : undefined,
  flushInterval: 20,
  sendQueueIntervalFlushLimit: { length: 200 },
  disconnect: { waitForPending: true },
});

let failed = null;
try {
  const sends = records.map((r) => client.emit("mirrord-operator", r, EventTime.now()));
  await Promise.all(sends);
  await client.disconnect();
} catch (e) {
  failed = e;
}
if (failed) {
  console.log(JSON.stringify({ sent: 0, error: String(failed) }));
  process.exit(1);
}
console.log(JSON.stringify({ sent: records.length }));
process.exit(0);
