// "Did you mean ...?": the closest known name to a misspelt import or export.

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/**
 * The candidate `name` was most probably meant to be, or undefined when none is close. "Close"
 * is an edit distance of at most 40% of the part after the common prefix (at least 1), so
 * proxy_on_grpc_trailing_metadata finds proxy_on_grpc_receive_trailing_metadata while
 * proxy_on_foo finds nothing.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    let prefix = 0;
    while (prefix < name.length && prefix < c.length && name[prefix] === c[prefix]) prefix++;
    const d = editDistance(name, c);
    const allowed = Math.max(1, 0.4 * (Math.max(name.length, c.length) - prefix));
    if (d <= allowed && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
