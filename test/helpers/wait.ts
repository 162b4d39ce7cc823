// Waiting in tests for something the server does on its own time.

/** Resolves once `cond()` holds (checked every 10 ms); throws after `timeoutMs`, naming `what` it waited for. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "the condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
