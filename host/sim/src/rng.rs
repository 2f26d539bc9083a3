//! Deterministic random numbers: xoshiro256++ seeded through splitmix64, and the few
//! distributions the market needs. Our own ~100 lines instead of a crate so the stream is
//! fixed forever: the same seed gives the same bytes on every platform and every release
//! (transcendental functions come from `libm`, not the platform's maths library).

/// splitmix64: a good 64-bit mixer, used to expand seeds and derive independent streams.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A xoshiro256++ generator. Cloning it forks the stream (both continue identically).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole future is a function of `seed`.
    pub fn new(seed: u64) -> Self {
        // The standard SplitMix64 sequence from `seed`.
        let mut x = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            *word = splitmix64(x);
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        }
        // xoshiro's only bad state is all zeros; splitmix never yields four zeros in a row,
        // but keep the guarantee explicit.
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    /// An independent stream named by `stream` under `seed`: the market draws demand,
    /// drift, keys and each pair's competitors from separate streams so that a decision in
    /// one never shifts the numbers another sees.
    pub fn derive(seed: u64, stream: u64) -> Self {
        Rng::new(splitmix64(
            seed ^ splitmix64(stream.wrapping_mul(0xA076_1D64_78BD_642F)),
        ))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, n)`; `n` must be positive. Multiply-shift (Lemire) without
    /// the rejection step: the bias is below 2^-40 for the sizes used here.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in `[lo, hi]`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// Exponential with mean 1.
    pub fn exponential(&mut self) -> f64 {
        -libm::log1p(-self.uniform())
    }

    /// Standard normal (Box–Muller, one output per two uniforms: a fixed number of draws
    /// per call keeps streams aligned whatever the values).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
    }

    /// Log-normal: `exp(mu + sigma * N(0, 1))`.
    pub fn log_normal(&mut self, mu: f64, sigma: f64) -> f64 {
        libm::exp(mu + sigma * self.normal())
    }

    /// Fills `out` with random bytes.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: [u64; 3] = [
        0xD076_4D4F_4476_689F,
        0x519E_4174_576F_3791,
        0xFBE0_7CFB_0C24_ED8C,
    ];

    #[test]
    fn stream_is_fixed() {
        // Pinned (checked against an independent implementation of SplitMix64 seeding and
        // xoshiro256++): a change here changes every simulation result.
        let mut rng = Rng::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, PINNED);
        assert_ne!(Rng::derive(42, 1).next_u64(), Rng::derive(42, 2).next_u64());
    }

    #[test]
    fn distributions_have_their_moments() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        let (mut sum_u, mut sum_e, mut sum_z, mut sum_z2) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            sum_u += rng.uniform();
            sum_e += rng.exponential();
            let z = rng.normal();
            sum_z += z;
            sum_z2 += z * z;
        }
        let n = f64::from(n);
        assert!((sum_u / n - 0.5).abs() < 0.01);
        assert!((sum_e / n - 1.0).abs() < 0.01);
        assert!((sum_z / n).abs() < 0.01);
        assert!((sum_z2 / n - 1.0).abs() < 0.02);
        for _ in 0..1000 {
            assert!(rng.below(7) < 7);
            let r = rng.range_inclusive(3, 5);
            assert!((3..=5).contains(&r));
        }
    }
}
