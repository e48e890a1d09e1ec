/**
 * Fastify options every client API of this project is built with: a body is
 * validated as sent — no type coercion ("2" into 2), no dropped fields, no
 * defaults filled in — and a body that would poison prototypes is refused.
 */
export const STRICT_JSON_OPTIONS = {
  onProtoPoisoning: "error",
  onConstructorPoisoning: "error",
  ajv: {
    customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false },
  },
} as const;
