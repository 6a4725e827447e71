// ComfyUI's validation converts constant inputs with Python's int()/float()/str()/bool() and
// stores the result back into the prompt. These reproduce those conversions, including the
// surprising ones (int(7.9) == 7, bool("false") == True), so a prompt behaves as in ComfyUI.

export type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const INT_LITERAL = /^[+-]?\d+(_\d+)*$/;
const FLOAT_LITERAL = /^[+-]?((\d+(_\d+)*)?\.?\d*(_\d+)*([eE][+-]?\d+)?|inf(inity)?|nan)$/i;

function pyRepr(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return JSON.stringify(value) ?? String(value);
}

export function coerceInt(value: unknown): Coerced {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, message: `cannot convert float ${value} to integer` };
    return { ok: true, value: Math.trunc(value) };
  }
  if (typeof value === 'string' && INT_LITERAL.test(value.trim())) {
    return { ok: true, value: Number(value.trim().replace(/_/g, '')) };
  }
  if (typeof value === 'string') return { ok: false, message: `invalid literal for int() with base 10: ${pyRepr(value)}` };
  return { ok: false, message: `int() argument must be a string or a number, not ${pyRepr(value)}` };
}

export function coerceFloat(value: unknown): Coerced {
  if (typeof value === 'boolean') return { ok: true, value: value ? 1 : 0 };
  if (typeof value === 'number') return { ok: true, value };
  if (typeof value === 'string') {
    const s = value.trim();
    if (s !== '' && s !== '.' && FLOAT_LITERAL.test(s)) {
      const lower = s.toLowerCase().replace(/_/g, '');
      if (lower.includes('nan')) return { ok: true, value: NaN };
      if (lower.includes('inf')) return { ok: true, value: lower.startsWith('-') ? -Infinity : Infinity };
      const n = Number(lower);
      if (!Number.isNaN(n)) return { ok: true, value: n };
    }
    return { ok: false, message: `could not convert string to float: ${pyRepr(value)}` };
  }
  return { ok: false, message: `float() argument must be a string or a real number, not ${pyRepr(value)}` };
}

export function coerceString(value: unknown): Coerced {
  if (typeof value === 'string') return { ok: true, value };
  if (value === null || value === undefined) return { ok: true, value: 'None' };
  if (typeof value === 'boolean') return { ok: true, value: value ? 'True' : 'False' };
  if (typeof value === 'number') return { ok: true, value: String(value) };
  return { ok: true, value: JSON.stringify(value) };
}

export function coerceBoolean(value: unknown): Coerced {
  if (Array.isArray(value)) return { ok: true, value: value.length > 0 };
  if (value !== null && typeof value === 'object') return { ok: true, value: Object.keys(value).length > 0 };
  return { ok: true, value: Boolean(value) };
}

/** Converts for the primitive types ComfyUI converts; other types pass through unchanged. */
export function coerceForType(type: string, value: unknown): Coerced {
  switch (type) {
    case 'INT':
      return coerceInt(value);
    case 'FLOAT':
      return coerceFloat(value);
    case 'STRING':
      return coerceString(value);
    case 'BOOLEAN':
      return coerceBoolean(value);
    default:
      return { ok: true, value };
  }
}
