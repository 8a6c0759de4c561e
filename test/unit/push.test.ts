import { orderPushCandidates, type PushCandidate } from '../../domain/push';

/** mulberry32: a small seeded PRNG, so the statistical tests are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const c = (buyerId: string, priority = 0, weight = 1): PushCandidate => ({ buyerId, priority, weight });
const noRandom = () => {
  throw new Error('round robin and priority must not use randomness');
};

describe('round_robin', () => {
  const three = [c('c'), c('a'), c('b')];

  it('with no previous buyer, starts from the lowest id', () => {
    expect(orderPushCandidates('round_robin', three, null, noRandom)).toEqual(['a', 'b', 'c']);
  });

  it('starts just after the last buyer served and wraps around', () => {
    expect(orderPushCandidates('round_robin', three, 'a', noRandom)).toEqual(['b', 'c', 'a']);
    expect(orderPushCandidates('round_robin', three, 'c', noRandom)).toEqual(['a', 'b', 'c']);
  });

  it('when the last buyer is no longer a candidate, starts after where it would sort', () => {
    expect(orderPushCandidates('round_robin', [c('a'), c('c'), c('e')], 'b', noRandom)).toEqual(['c', 'e', 'a']);
    expect(orderPushCandidates('round_robin', [c('a'), c('c'), c('e')], 'z', noRandom)).toEqual(['a', 'c', 'e']);
  });

  it('round-robin over 3 buyers for 6 leads gives 2 each', () => {
    const won: Record<string, number> = {};
    let last: string | null = null;
    for (let lead = 0; lead < 6; lead++) {
      last = orderPushCandidates('round_robin', three, last, noRandom)[0];
      won[last] = (won[last] ?? 0) + 1;
    }
    expect(won).toEqual({ a: 2, b: 2, c: 2 });
  });

  it('sorts by code unit, independent of locale', () => {
    expect(orderPushCandidates('round_robin', [c('b'), c('B'), c('a')], null, noRandom)).toEqual(['B', 'a', 'b']);
  });

  it('tries each buyer once even if listed twice', () => {
    expect(orderPushCandidates('round_robin', [c('a'), c('a'), c('b')], null, noRandom)).toEqual(['a', 'b']);
  });

  it('no candidates, no order', () => {
    expect(orderPushCandidates('round_robin', [], 'a', noRandom)).toEqual([]);
  });
});

describe('priority', () => {
  it('tries the highest priority first', () => {
    expect(orderPushCandidates('priority', [c('a', 1), c('b', 5), c('c', 3)], null, noRandom)).toEqual(['b', 'c', 'a']);
  });

  it('equal-priority buyers share: ties rotate round-robin after the last buyer', () => {
    const cands = [c('x', 1), c('a', 9), c('b', 9), c('c', 9)];
    expect(orderPushCandidates('priority', cands, 'a', noRandom)).toEqual(['b', 'c', 'a', 'x']);
    const won: Record<string, number> = {};
    let last: string | null = null;
    for (let lead = 0; lead < 6; lead++) {
      last = orderPushCandidates('priority', cands, last, noRandom)[0];
      won[last] = (won[last] ?? 0) + 1;
    }
    expect(won).toEqual({ a: 2, b: 2, c: 2 });
  });

  it('a non-numeric priority goes last', () => {
    expect(orderPushCandidates('priority', [c('a', NaN), c('b', -100)], null, noRandom)).toEqual(['b', 'a']);
  });
});

describe('weighted', () => {
  it('returns a permutation of the candidates', () => {
    const order = orderPushCandidates('weighted', [c('a', 0, 1), c('b', 0, 2), c('c', 0, 3)], null, seeded(1));
    expect([...order].sort()).toEqual(['a', 'b', 'c']);
  });

  it('weighted over 3000 draws with weights 1:2:3 lands within ±3 points of 1/6, 2/6, 3/6', () => {
    const random = seeded(42);
    const cands = [c('a', 0, 1), c('b', 0, 2), c('c', 0, 3)];
    const first: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 3000; i++) first[orderPushCandidates('weighted', cands, null, random)[0]]++;
    expect(Math.abs(first.a / 3000 - 1 / 6)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(first.b / 3000 - 2 / 6)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(first.c / 3000 - 3 / 6)).toBeLessThanOrEqual(0.03);
  });

  it('the fallback after the first pick is also weighted among the rest', () => {
    const random = seeded(7);
    const cands = [c('a', 0, 1), c('b', 0, 3), c('c', 0, 100)];
    let bSecond = 0;
    let runs = 0;
    for (let i = 0; i < 3000; i++) {
      const order = orderPushCandidates('weighted', cands, null, random);
      if (order[0] === 'c') {
        runs++;
        if (order[1] === 'b') bSecond++;
      }
    }
    expect(Math.abs(bSecond / runs - 3 / 4)).toBeLessThanOrEqual(0.03);
  });

  it('weights <= 0 go last, in id order, and never first', () => {
    const random = seeded(3);
    const cands = [c('z', 0, 0), c('y', 0, -5), c('m', 0, 1), c('n', 0, 1)];
    for (let i = 0; i < 200; i++)
      expect(orderPushCandidates('weighted', cands, null, random).slice(2)).toEqual(['y', 'z']);
  });

  it('is deterministic for a given random sequence, whatever the input order', () => {
    const cands = [c('a', 0, 1), c('b', 0, 2), c('c', 0, 3), c('d', 0, 4)];
    const reversed = [...cands].reverse();
    for (let seed = 0; seed < 20; seed++)
      expect(orderPushCandidates('weighted', reversed, null, seeded(seed))).toEqual(
        orderPushCandidates('weighted', cands, null, seeded(seed)),
      );
  });

  it('a random() at the very top of its range still picks someone', () => {
    expect(
      orderPushCandidates('weighted', [c('a', 0, 0.1), c('b', 0, 0.2)], null, () => 0.9999999999999999),
    ).toHaveLength(2);
  });
});
