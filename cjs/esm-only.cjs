"use strict";
// Every `require` condition of conclave's exports points here: the package is
// ES modules only, and a plain "require() of ES Module" or "Cannot find
// module" would not say what to do instead.
const error = new Error(
  'conclave is an ES module package; use import (import { HashRing } from "conclave/hashring"), ' +
    'or from CommonJS: const { HashRing } = await import("conclave/hashring")',
);
error.code = "ERR_CONCLAVE_ESM_ONLY";
throw error;
