// XML escaping for Herald's serializer.

const TEXT_TEST = /[&<>]/;
const TEXT_RE = /[&<>]/g;
const ATTR_TEST = /[&<>'"]/;
const ATTR_RE = /[&<>'"]/g;
const MAP: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;" };
const sub = (c: string): string => MAP[c];

export function escapeText(s: string): string {
  return TEXT_TEST.test(s) ? s.replace(TEXT_RE, sub) : s;
}

export function escapeAttr(s: string): string {
  return ATTR_TEST.test(s) ? s.replace(ATTR_RE, sub) : s;
}
