// The test server lives in test/harness/server.ts; this path stays for the tests that import it.
export * from "../harness/server.js";
