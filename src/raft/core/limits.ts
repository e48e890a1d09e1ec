/**
 * Numeric ranges the protocol accepts from peers and produces itself.
 *
 * Terms and indexes are JavaScript numbers, exact only up to 2^53 - 1. The
 * core adds small amounts to them (a term + 1 for an election, an index + the
 * number of entries in a message), so a ceiling of 2^52 leaves room for every
 * such sum to stay exact, and is still more terms and indexes than a cluster
 * can use: a new term every millisecond for 140,000 years.
 */
export const MAX_TERM = 2 ** 52;

/** The largest log index (and commit index) the protocol handles; see MAX_TERM. */
export const MAX_INDEX = 2 ** 52;

/**
 * How far above its own term a node accepts a message's term. A real cluster
 * moves one term per election, so even years of partitions stay far below
 * this; a larger jump is not a cluster that moved on but a peer that lies,
 * and each lie could otherwise take a large bite out of the term space.
 */
export const MAX_TERM_JUMP = 2 ** 32;
