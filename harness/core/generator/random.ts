// The harness's only source of randomness: a small seeded PRNG, so that a
// test's seed decides every random choice its generators make (Math.random
// could not be replayed). xoshiro128** (Blackman & Vigna): 128 bits of state,
// period 2^128 - 1, fast on 32-bit integer arithmetic, which is what JS does
// well. The state is seeded through splitmix32, as the authors recommend, so
// that nearby seeds (1, 2, 3, ...) give unrelated streams.

const TWO_32 = 0x1_0000_0000;

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(a: number, b: number, c: number, d: number) {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** A stream decided by `seed`, any safe integer (negative ones included). */
  static seeded(seed: number): Random {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) >>> 0;
    let s = (lo ^ Math.imul(hi, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    const r = new Random(next(), next(), next(), next());
    // The all-zero state is xoshiro's one fixed point; splitmix32 makes it
    // practically impossible, but a stuck generator would be silent.
    if ((r.a | r.b | r.c | r.d) === 0) r.a = 1;
    return r;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1), with 53 random bits. */
  float(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n); n a positive safe integer. */
  int(n: number): number {
    if (!(n > 0 && Number.isSafeInteger(n))) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    if (n <= TWO_32) {
      // Rejection sampling: a plain modulo would favour small results when n
      // does not divide 2^32.
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return x % n;
      }
    }
    return Math.floor(this.float() * n);
  }

  /** An independent copy that continues from the same point. */
  clone(): Random {
    return new Random(this.a, this.b, this.c, this.d);
  }

  /** Continue from where `other` is (used to commit the draws of a clone). */
  copyFrom(other: Random): void {
    this.a = other.a;
    this.b = other.b;
    this.c = other.c;
    this.d = other.d;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
