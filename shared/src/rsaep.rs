//! RSAEP (RFC 8017 §5.1.1), `m^e mod n` for a public key, in Montgomery arithmetic shaped for wasm32: the
//! ballot encryption of the browser (R-VOTE-7, tracker issue 10).
//!
//! Why not `crypto-bigint`'s Montgomery form, as `rsa` uses: wasm multiplies at most 32×32→64 bits (`i64.mul`,
//! or two at a time in SIMD128's `i64x2.extmul`) and has no add-with-carry, so full 32-bit limbs spend much of
//! their time on carries. Here a number is held in 30-bit limbs (103 for RSA-3072): a product of two limbs has
//! 60 bits, so 16 of them sum in one `u64` with no carry, and a column's sum is kept in a `u128` that takes each
//! such chunk. The multiplication scans products column by column (Comba), with Montgomery's reduction in the
//! same columns and one carry per column; a square computes each cross product once. A column's products are
//! the dot product of one factor with the other reversed, taken four at a time in SIMD128 (the voter app's build,
//! `.cargo/config.toml`) and one at a time on the host.
//!
//! Constant time in the message: every loop bound and index depends on the key's size only, and there is no
//! branch on the message's value. Montgomery's final subtraction is avoided by R = 2^(30·L) > 4n (Walter): a
//! product of two values below 2n is below 2n again, so only the final result is reduced, by a masked
//! subtraction. Only the public exponent's bits choose squaring or multiplication, as in any RSAEP: for
//! e = 65537, 16 squarings, 1 multiplication and 1 multiplication to leave Montgomery form.
//!
//! Checked against `crypto-bigint`'s modular exponentiation on random and edge values (0, 1, 2, n − 1, n − 2)
//! for the 3072-bit test key and moduli of 3073 to 4096 bits with exponents 3, 17 and 65537, in Chromium (SIMD)
//! and on the host (tests below); and end to end by the OAEP tests: byte for byte equal to `rsa`'s encryption,
//! decrypted by `rsa`, WebCrypto, OpenSSL and SoftHSM2.

use crypto_bigint::BoxedUint;
use crypto_bigint::modular::BoxedMontyForm;
use rsa::PublicKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

/// Bits per limb.
const W: u32 = 30;
/// The low `W` bits.
const MASK: u64 = (1 << W) - 1;
/// Products summed in one `u64` before it is added to the column's `u128`: 16·(2³⁰ − 1)² < 2⁶⁴.
const CHUNK: usize = 16;

/// A public key prepared for RSAEP: its modulus in 30-bit limbs and the Montgomery constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rsaep {
    /// The modulus, least significant limb first.
    n: Vec<u32>,
    /// The modulus, most significant limb first: a column's products read it forwards.
    n_rev: Vec<u32>,
    /// −n⁻¹ mod 2³⁰.
    n_prime: u64,
    /// The public exponent's bits, most significant first, without the leading one.
    e_bits: Vec<bool>,
    /// R^(b + 1) mod n, R = 2^(30·L), where R^−b is what the exponentiation leaves on a message that never
    /// entered Montgomery form: one multiplication by it takes the result out (see [`Rsaep::apply`]).
    fix: Vec<u32>,
    /// The modulus's length in bytes, the length of every result.
    k: usize,
}

/// The working space of one exponentiation, wiped when dropped: every value in it is derived from the message.
struct Scratch {
    /// The reduction's quotient limbs of the current product.
    m: Zeroizing<Vec<u32>>,
    /// The current product's second factor, most significant limb first.
    rev: Zeroizing<Vec<u32>>,
}

impl Scratch {
    fn new(l: usize) -> Scratch {
        Scratch { m: Zeroizing::new(vec![0; l]), rev: Zeroizing::new(vec![0; l]) }
    }

    /// Holds `x` reversed as the current product's second factor.
    fn set_rev(&mut self, x: &[u32]) {
        for (r, &v) in self.rev.iter_mut().zip(x.iter().rev()) {
            *r = v;
        }
    }
}

impl Rsaep {
    /// Prepares `key`. Work that depends on the key alone (one division and one exponentiation), done once per
    /// key.
    pub fn new(key: &PublicKey) -> Rsaep {
        let bits = key.n().bit_width_vartime() as usize;
        // R > 4n: two bits of room above the modulus.
        let limbs = (bits + 2).div_ceil(W as usize);
        let n = to_limbs(&key.n_bytes(), limbs);
        let n_prime = inverse_mod_2_64(u64::from(n[0])).wrapping_neg() & MASK;
        let e = key.e();
        let e_bits: Vec<bool> = (0..e.bit_width_vartime().saturating_sub(1)).rev().map(|i| e.bit_vartime(i)).collect();
        // Each squaring turns m^a·R^−b into m^2a·R^−(2b + 1), each multiplication by m into m^(a + 1)·R^−(b + 1).
        let b = e_bits.iter().fold(0u64, |b, &bit| 2 * b + 1 + u64::from(bit));
        // R^(b + 1) mod n, by `crypto-bigint` (R mod n by one division, then its exponentiation).
        let r_bits = W as usize * limbs;
        let mut r_be = vec![0u8; r_bits / 8 + 1];
        r_be[0] = 1 << (r_bits % 8);
        let r = BoxedUint::from_be_slice_vartime(&r_be).rem_vartime(key.n());
        let exp = BoxedUint::from(b + 1);
        let fix = BoxedMontyForm::new(r, key.n_params()).pow_bounded_exp(&exp, exp.bit_width_vartime()).retrieve();
        let fix = to_limbs(&fix.to_be_bytes(), limbs);
        let n_rev = n.iter().rev().copied().collect();
        Rsaep { n, n_rev, n_prime, e_bits, fix, k: key.size() }
    }

    /// Returns the modulus's length in bytes: the length of every result.
    pub fn size(&self) -> usize {
        self.k
    }

    /// Returns `m^e mod n` as `k` bytes, `m` given big-endian and below `n` (an OAEP block, which starts with a
    /// zero byte).
    ///
    /// The message never enters Montgomery form: square-and-multiply on it leaves m^e·R^−b, and one Montgomery
    /// multiplication by R^(b + 1) leaves m^e. That is one multiplication fewer than entering and leaving.
    pub fn apply(&self, m: &[u8]) -> Vec<u8> {
        let l = self.n.len();
        let mut s = Scratch::new(l);
        let plain = Zeroizing::new(to_limbs(m, l));
        let x = self.pow(&plain, &self.e_bits, &mut s);
        let mut c = Zeroizing::new(vec![0u32; l]);
        // Below 2n·n/R + n < 1.5n: one masked subtraction leaves it below n.
        self.mul(&x, &self.fix, &mut c, &mut s);
        self.reduce(&mut c);
        from_limbs(&c, self.k)
    }

    /// Square-and-multiply: `base` raised to the number whose bits are a leading one and then `bits`, with each
    /// product a Montgomery product.
    fn pow(&self, base: &[u32], bits: &[bool], s: &mut Scratch) -> Zeroizing<Vec<u32>> {
        let mut acc = Zeroizing::new(base.to_vec());
        let mut tmp = Zeroizing::new(vec![0u32; base.len()]);
        for &bit in bits {
            self.square(&acc, &mut tmp, s);
            if bit {
                self.mul(&tmp, base, &mut acc, s);
            } else {
                acc.copy_from_slice(&tmp);
            }
        }
        acc
    }

    /// `out = a·b·R⁻¹ mod n`, below 2n for `a` and `b` below 2n.
    fn mul(&self, a: &[u32], b: &[u32], out: &mut [u32], s: &mut Scratch) {
        s.set_rev(b);
        self.redc(out, s, |k, lo, hi, rev| column(a, rev, k, lo, hi));
    }

    /// `out = a²·R⁻¹ mod n`, as [`Rsaep::mul`] with each cross product computed once and doubled.
    fn square(&self, a: &[u32], out: &mut [u32], s: &mut Scratch) {
        s.set_rev(a);
        self.redc(out, s, |k, lo, hi, rev| {
            // Pairs i < k − i, i in lo..half; the middle square when k is even.
            let half = k.div_ceil(2).min(hi);
            let cross = if lo < half { column(a, rev, k, lo, half) } else { 0 };
            let middle = if k % 2 == 0 { u128::from(u64::from(a[k / 2]).pow(2)) } else { 0 };
            2 * cross + middle
        });
    }

    /// Product scanning with Montgomery's reduction interleaved: for each column k of the 2L − 1 columns, adds
    /// `products(k, lo, hi, rev)` (the factors' products a[i]·b[k − i] for i in lo..hi, `rev` being the second
    /// factor reversed) and the reduction's products m[i]·n[k − i]; in the low L columns it then chooses m[k] to
    /// clear the column's 30 bits, in the high ones it writes the column as a limb of `out`.
    fn redc(&self, out: &mut [u32], s: &mut Scratch, products: impl Fn(usize, usize, usize, &[u32]) -> u128) {
        let l = self.n.len();
        let mut t = 0u128;
        for k in 0..l {
            t += products(k, 0, k + 1, &s.rev) + column(&s.m, &self.n_rev, k, 0, k);
            let q = (t as u64).wrapping_mul(self.n_prime) & MASK;
            s.m[k] = q as u32;
            t += u128::from(q * u64::from(self.n[0]));
            debug_assert_eq!(t as u64 & MASK, 0);
            t >>= W;
        }
        for k in l..2 * l - 1 {
            let lo = k + 1 - l;
            t += products(k, lo, l, &s.rev) + column(&s.m, &self.n_rev, k, lo, l);
            out[k - l] = (t as u64 & MASK) as u32;
            t >>= W;
        }
        debug_assert!(t <= u128::from(MASK));
        out[l - 1] = t as u32;
    }

    /// Reduces `x` < 2n (normalised limbs) below n: subtracts n, and keeps the difference unless it borrowed,
    /// chosen by a mask.
    fn reduce(&self, x: &mut [u32]) {
        let mut diff = Zeroizing::new(vec![0u32; x.len()]);
        let mut borrow = 0u32;
        for ((d, &xi), &ni) in diff.iter_mut().zip(x.iter()).zip(&self.n) {
            let v = xi.wrapping_sub(ni).wrapping_sub(borrow);
            *d = v & MASK as u32;
            borrow = v >> 31;
        }
        // borrow = 1: x < n, keep x.
        let keep_x = borrow.wrapping_neg();
        for (xi, d) in x.iter_mut().zip(diff.iter()) {
            *xi = (*xi & keep_x) | (d & !keep_x);
        }
    }
}

/// Σ x[i]·y[k − i] for i in lo..hi, `y_rev` being y reversed (y[j] = y_rev[L − 1 − j]), so that both run forwards.
#[inline(always)]
fn column(x: &[u32], y_rev: &[u32], k: usize, lo: usize, hi: usize) -> u128 {
    // y[k − lo] = y_rev[L − 1 − k + lo], never negative: lo ≥ k + 1 − L.
    let start = lo + y_rev.len() - 1 - k;
    dot(&x[lo..hi], &y_rev[start..start + hi - lo])
}

/// Σ a[i]·b[i] over two slices of the same length, four products at a time in wasm's SIMD128 (`i64x2.extmul`,
/// 32×32→64 bits per lane): each lane takes 2·8 products before it is added to the sum.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn dot(a: &[u32], b: &[u32]) -> u128 {
    use core::arch::wasm32::{
        u64x2_add, u64x2_extmul_high_u32x4, u64x2_extmul_low_u32x4, u64x2_extract_lane, u64x2_splat, v128,
    };
    // One unaligned `v128` of four limbs each.
    let load = |x: &[u32]| bytemuck::pod_read_unaligned::<v128>(bytemuck::cast_slice(x));
    let mut sum = 0u128;
    for (a, b) in a.chunks(CHUNK * 2).zip(b.chunks(CHUNK * 2)) {
        let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
        sum += dot_chunk(a4.remainder(), b4.remainder());
        let mut acc = u64x2_splat(0);
        for (x, y) in a4.zip(b4) {
            let (x, y) = (load(x), load(y));
            acc = u64x2_add(acc, u64x2_add(u64x2_extmul_low_u32x4(x, y), u64x2_extmul_high_u32x4(x, y)));
        }
        sum += u128::from(u64x2_extract_lane::<0>(acc)) + u128::from(u64x2_extract_lane::<1>(acc));
    }
    sum
}

/// Σ a[i]·b[i] over two slices of the same length.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn dot(a: &[u32], b: &[u32]) -> u128 {
    a.chunks(CHUNK).zip(b.chunks(CHUNK)).map(|(a, b)| dot_chunk(a, b)).sum()
}

/// Σ a[i]·b[i] over at most [`CHUNK`] products.
#[inline(always)]
fn dot_chunk(a: &[u32], b: &[u32]) -> u128 {
    u128::from(a.iter().zip(b).fold(0u64, |s, (&x, &y)| s + u64::from(x) * u64::from(y)))
}

/// x⁻¹ mod 2⁶⁴ for odd x, by Newton's iteration (each step doubles the correct low bits: 3, 6, …, 96).
fn inverse_mod_2_64(x: u64) -> u64 {
    let mut inv = x; // x·x ≡ 1 mod 8 for odd x.
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv
}

/// Big-endian bytes into `l` limbs of 27 bits, least significant first. The value must fit; leading zero bytes
/// beyond the limbs are dropped.
fn to_limbs(be: &[u8], l: usize) -> Vec<u32> {
    let mut out = vec![0u32; l];
    let (mut bits, mut held, mut i) = (0u32, 0u64, 0usize);
    for &byte in be.iter().rev() {
        held |= u64::from(byte) << bits;
        bits += 8;
        if bits >= W {
            if let Some(limb) = out.get_mut(i) {
                *limb = (held & MASK) as u32;
            }
            held >>= W;
            bits -= W;
            i += 1;
        }
    }
    // The last, partial limb: its position depends on the length alone.
    if let Some(top) = out.get_mut(i) {
        *top = held as u32;
    }
    out
}

/// Normalised limbs into `k` big-endian bytes. The value must fit.
fn from_limbs(x: &[u32], k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k];
    let (mut bits, mut held) = (0u32, 0u64);
    let mut limbs = x.iter();
    for byte in out.iter_mut().rev() {
        if bits < 8 {
            held |= u64::from(limbs.next().copied().unwrap_or(0)) << bits;
            bits += W;
        }
        *byte = held as u8;
        held >>= 8;
        bits -= 8;
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use rsa::pkcs8::DecodePublicKey;

    use super::*;

    const PUB_3072: &str = include_str!("../tests/data/test-election-key.pub.pem");

    /// `m^e mod n` by `crypto-bigint`'s own modular exponentiation, the arithmetic `rsa` uses.
    fn reference(key: &PublicKey, m: &[u8]) -> Vec<u8> {
        let params = key.n_params();
        let base = BoxedMontyForm::new(BoxedUint::from_be_slice(m, params.bits_precision()).unwrap(), params);
        let c = base.pow(key.e()).retrieve().to_be_bytes();
        c[c.len() - key.size()..].to_vec()
    }

    /// The values a carry or reduction mistake shows on: 0, 1, 2, n − 1, n − 2, all ones below n's top byte, and
    /// random ones.
    fn values(key: &PublicKey, rng: &mut ChaCha20Rng, random: usize) -> Vec<Vec<u8>> {
        let k = key.size();
        let n = key.n_bytes().to_vec();
        let minus = |d: u8| {
            let mut v = n.clone();
            *v.last_mut().unwrap() -= d; // n is odd and its last byte above 2 for these keys
            v
        };
        let small = |x: u8| {
            let mut v = vec![0u8; k];
            v[k - 1] = x;
            v
        };
        let mut out = vec![small(0), small(1), small(2), minus(1), minus(2), {
            let mut v = vec![0xff; k];
            v[0] = 0;
            v
        }];
        for _ in 0..random {
            let mut v = vec![0u8; k];
            rng.fill_bytes(&mut v[1..]);
            out.push(v);
        }
        out
    }

    #[test]
    fn equals_crypto_bigints_exponentiation_for_a_3072_bit_key() {
        let key = PublicKey::from_public_key_pem(PUB_3072).unwrap();
        let rsaep = Rsaep::new(&key);
        assert_eq!(rsaep.n.len(), 103);
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        for m in values(&key, &mut rng, 40) {
            assert_eq!(rsaep.apply(&m), reference(&key, &m), "m = {}", hex::encode(&m));
        }
    }

    #[test]
    fn equals_crypto_bigints_exponentiation_for_other_sizes_and_exponents() {
        // Moduli of 3072 + a few bits, 4096 and an odd size, with exponents 3, 17 and 65537: random odd moduli
        // with the top bit set are enough for the arithmetic (it never needs n's factors).
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        for (bits, e) in [(3073usize, 3u32), (3080, 65537), (4096, 65537), (3500, 17)] {
            let k = bits.div_ceil(8);
            let mut n = vec![0u8; k];
            rng.fill_bytes(&mut n);
            n[0] &= 0xff >> (8 * k - bits);
            n[0] |= 0x80 >> (8 * k - bits);
            n[k - 1] |= 0x0f; // odd, and above the `minus` values' reach
            let key = PublicKey::new_unchecked(BoxedUint::from_be_slice_vartime(&n), BoxedUint::from(e));
            let rsaep = Rsaep::new(&key);
            for m in values(&key, &mut rng, 8) {
                assert_eq!(rsaep.apply(&m), reference(&key, &m), "{bits} bits, e = {e}");
            }
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn equals_crypto_bigints_exponentiation_for_any_message(tail in proptest::collection::vec(0u8.., 383)) {
            let key = PublicKey::from_public_key_pem(PUB_3072).unwrap();
            let m = [&[0u8][..], &tail].concat();
            proptest::prop_assert_eq!(Rsaep::new(&key).apply(&m), reference(&key, &m));
        }
    }

    /// The voter app and these tests build with SIMD128 (.cargo/config.toml, which both read), so the kernel
    /// tested in Chromium is the one voters run; without the flag this test does not compile.
    #[cfg(target_arch = "wasm32")]
    #[test]
    fn the_wasm_build_runs_the_simd128_kernel() {
        const { assert!(cfg!(target_feature = "simd128"), "build for wasm32 with -C target-feature=+simd128") };
    }

    #[test]
    fn limbs_round_trip_bytes() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        for k in [1usize, 3, 4, 27, 384, 512] {
            let mut be = vec![0u8; k];
            rng.fill_bytes(&mut be);
            let l = (8 * k).div_ceil(W as usize);
            let limbs = to_limbs(&be, l);
            assert!(limbs.iter().all(|&x| u64::from(x) <= MASK));
            assert_eq!(from_limbs(&limbs, k), be);
        }
    }

    #[test]
    fn the_inverse_mod_2_64_is_one() {
        for x in [1u64, 3, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def1] {
            assert_eq!(x.wrapping_mul(inverse_mod_2_64(x)), 1);
        }
    }
}
