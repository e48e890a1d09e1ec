/** Trial division: exact for every safe integer this module accepts (<= 2^31). */
export function isPrime(value: number): boolean {
  if (!Number.isInteger(value) || value < 2) return false;
  if (value < 4) return true;
  if (value % 2 === 0 || value % 3 === 0) return false;
  for (let d = 5; d * d <= value; d += 6) {
    if (value % d === 0 || value % (d + 2) === 0) return false;
  }
  return true;
}

/** The smallest prime strictly greater than `value`. */
export function nextPrimeAbove(value: number): number {
  let candidate = Math.floor(value) + 1;
  while (!isPrime(candidate)) candidate++;
  return candidate;
}
