/**
 * Sorts `items` in place, ascending by `compare` (as Array.prototype.sort
 * would), and returns it. Arrays of a few elements are insertion-sorted:
 * V8's sort allocates its merge state (about a kilobyte) on every call, and
 * the write path sorts a handful of ids or indexes several times per request.
 */
export function sortSmall<T>(items: T[], compare: (a: T, b: T) => number): T[] {
  if (items.length > INSERTION_MAX) return items.sort(compare);
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    let j = i - 1;
    while (j >= 0 && compare(items[j]!, item) > 0) {
      items[j + 1] = items[j]!;
      j--;
    }
    items[j + 1] = item;
  }
  return items;
}

/** Beyond this many elements the quadratic insertion sort would cost more than it saves. */
const INSERTION_MAX = 16;

export const ascending = (a: number, b: number): number => a - b;

/** UTF-16 code unit order, as the default sort of strings. */
export const codeUnitOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
