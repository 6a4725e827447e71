// Python's `json.dumps(value)` with default arguments, which is how ComfyUI serialises the
// `prompt`/`workflow` PNG chunks: ", " and ": " separators, non-ASCII escaped as \uXXXX
// (lowercase hex, surrogate pairs), NaN/Infinity written bare. One difference is unavoidable:
// JS has no int/float distinction, so a Python float 8.0 can only print as "8" here (integral
// numbers print as ints; non-integral ones use Python's repr rules for the exponent form).

export function comfyJsonDumps(value: unknown): string {
  return dump(value);
}

function dump(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'number') return pyNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((v) => dump(v)).join(', ')}]`;
  if (typeof value === 'object') {
    const toJSON = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof toJSON === 'function') return dump(toJSON.call(value));
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function') continue;
      parts.push(`${pyString(k)}: ${dump(v)}`);
    }
    return `{${parts.join(', ')}}`;
  }
  return 'null';
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Number.isInteger(n)) return Object.is(n, -0) ? '0' : BigInt(n).toString();
  const abs = Math.abs(n);
  // Python's float repr switches to exponent form below 1e-4 (JS only below 1e-6).
  if (abs < 1e-4) {
    const [mant, exp] = n.toExponential().split('e');
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return String(n);
}

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const c = s.charCodeAt(i);
    if (ESCAPES[ch]) out += ESCAPES[ch];
    else if (c < 0x20 || c > 0x7e) out += c === 0x7f ? ch : `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}
