//! Estimates with confidence intervals, and the rank tests a usability study reports:
//! - [`wilson`]: the Wilson score interval of a rate (completion, errors), right near 0 % and 100 %;
//! - [`bootstrap_median`]: the percentile bootstrap interval of a median time (times are skewed, so no normal
//!   interval);
//! - [`friedman`]: layouts compared within subjects (every participant in every layout), with Kendall's W;
//! - [`kruskal_wallis`]: layouts compared between subjects (each participant in one), with ε²;
//! - [`wilcoxon_signed_rank`] and [`mann_whitney`]: one pair of layouts, within or between, with r = |z|/√N;
//! - [`holm`]: the pairwise p-values adjusted for how many pairs were tested.
//!
//! Ties get average ranks and the usual tie corrections; p-values come from the chi-squared or the normal
//! distribution (large-sample approximations, as the lab's studies have dozens of participants). The tests
//! compare every figure with SciPy 1.x on the same data.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// A two-sided 95 % interval's z.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Why a test cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatsError {
    /// Too few observations for the test.
    #[error("TOO_FEW: {0}")]
    TooFew(&'static str),
    /// Rows of different lengths in a within-subject table.
    #[error("RAGGED: every participant needs a value in every layout (row {0} differs)")]
    Ragged(usize),
    /// Every value is the same: nothing to rank.
    #[error("ALL_TIED: every value is the same, so the ranks say nothing")]
    AllTied,
}

/// The Wilson score interval of `successes` out of `n` at the given z (e.g. [`Z95`]); none when `n` is 0.
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 || successes > n {
        return None;
    }
    let (s, n) = (successes as f64, n as f64);
    let p = s / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// The median of finite values; none of none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// The percentile bootstrap interval (level `1 − alpha`) of the median, from `resamples` resamples drawn with a
/// seeded generator, so that a report is the same each time it is made.
pub fn bootstrap_median(values: &[f64], resamples: usize, alpha: f64, seed: u64) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut medians = Vec::with_capacity(resamples);
    let mut sample = vec![0.0; v.len()];
    for _ in 0..resamples {
        for slot in sample.iter_mut() {
            *slot = v[(rng.next_u64() % v.len() as u64) as usize];
        }
        medians.push(median(&sample)?);
    }
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Some((at(alpha / 2.0), at(1.0 - alpha / 2.0)))
}

/// The average ranks (1-based) of the values, and Σ (t³ − t) over the groups of ties.
pub fn ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (ranks, ties)
}

fn chi2_sf(x: f64, df: f64) -> f64 {
    ChiSquared::new(df).map(|d| d.sf(x)).unwrap_or(f64::NAN)
}

fn normal_two_sided(z: f64) -> f64 {
    Normal::standard().sf(z.abs()) * 2.0
}

/// A test across layouts: the statistic, its degrees of freedom, the p-value and the effect size.
#[derive(Clone, Debug, PartialEq)]
pub struct Omnibus {
    /// Friedman's Q or Kruskal-Wallis's H (tie-corrected).
    pub statistic: f64,
    /// Degrees of freedom (layouts − 1).
    pub df: f64,
    /// The p-value from the chi-squared distribution.
    pub p: f64,
    /// Kendall's W (Friedman) or ε² (Kruskal-Wallis), from 0 (no effect) to 1.
    pub effect: f64,
}

/// Friedman's test: `table[participant][layout]`, each participant measured in every layout.
pub fn friedman(table: &[Vec<f64>]) -> Result<Omnibus, StatsError> {
    let n = table.len();
    let k = table.first().map_or(0, Vec::len);
    if n < 2 || k < 2 {
        return Err(StatsError::TooFew("Friedman's test needs 2 participants and 2 layouts"));
    }
    let mut sums = vec![0.0; k];
    let mut ties = 0.0;
    for (i, row) in table.iter().enumerate() {
        if row.len() != k {
            return Err(StatsError::Ragged(i));
        }
        let (r, t) = ranks(row);
        ties += t;
        for (s, v) in sums.iter_mut().zip(r) {
            *s += v;
        }
    }
    let (nf, kf) = (n as f64, k as f64);
    let correction = 1.0 - ties / (nf * kf * (kf * kf - 1.0));
    if correction <= 0.0 {
        return Err(StatsError::AllTied);
    }
    let q =
        (12.0 / (nf * kf * (kf + 1.0)) * sums.iter().map(|s| s * s).sum::<f64>() - 3.0 * nf * (kf + 1.0)) / correction;
    Ok(Omnibus { statistic: q, df: kf - 1.0, p: chi2_sf(q, kf - 1.0), effect: q / (nf * (kf - 1.0)) })
}

/// The Kruskal-Wallis test: one group of values per layout, each participant in one layout.
pub fn kruskal_wallis(groups: &[Vec<f64>]) -> Result<Omnibus, StatsError> {
    let groups: Vec<&Vec<f64>> = groups.iter().filter(|g| !g.is_empty()).collect();
    let all: Vec<f64> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    let n = all.len() as f64;
    if groups.len() < 2 || all.len() < 3 {
        return Err(StatsError::TooFew("the Kruskal-Wallis test needs 2 layouts with values"));
    }
    let (r, ties) = ranks(&all);
    let correction = 1.0 - ties / (n * n * n - n);
    if correction <= 0.0 {
        return Err(StatsError::AllTied);
    }
    let mut at = 0;
    let mut sum = 0.0;
    for g in &groups {
        let rs: f64 = r[at..at + g.len()].iter().sum();
        sum += rs * rs / g.len() as f64;
        at += g.len();
    }
    let h = (12.0 / (n * (n + 1.0)) * sum - 3.0 * (n + 1.0)) / correction;
    let df = (groups.len() - 1) as f64;
    Ok(Omnibus { statistic: h, df, p: chi2_sf(h, df), effect: h / (n - 1.0) })
}

/// One pair of layouts: the statistic, z, the two-sided p-value and r = |z|/√N.
#[derive(Clone, Debug, PartialEq)]
pub struct Pairwise {
    /// W+ (signed-rank) or U of the first sample (Mann-Whitney).
    pub statistic: f64,
    /// The normal approximation's z.
    pub z: f64,
    /// The two-sided p-value.
    pub p: f64,
    /// The effect size r = |z| / √N.
    pub r: f64,
}

/// The Wilcoxon signed-rank test of paired values (within subjects); pairs that do not differ are dropped.
pub fn wilcoxon_signed_rank(x: &[f64], y: &[f64]) -> Result<Pairwise, StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::Ragged(x.len().min(y.len())));
    }
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).filter(|d| *d != 0.0).collect();
    if d.len() < 2 {
        return Err(StatsError::TooFew("the signed-rank test needs 2 pairs that differ"));
    }
    let (r, ties) = ranks(&d.iter().map(|v| v.abs()).collect::<Vec<_>>());
    let w: f64 = r.iter().zip(&d).filter(|(_, d)| **d > 0.0).map(|(r, _)| r).sum();
    let n = d.len() as f64;
    let mean = n * (n + 1.0) / 4.0;
    let sd = (n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - ties / 48.0).sqrt();
    let z = (w - mean) / sd;
    Ok(Pairwise { statistic: w, z, p: normal_two_sided(z), r: z.abs() / n.sqrt() })
}

/// The Mann-Whitney U test of two independent samples (between subjects).
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Result<Pairwise, StatsError> {
    if x.is_empty() || y.is_empty() {
        return Err(StatsError::TooFew("the Mann-Whitney test needs values in both layouts"));
    }
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let (r, ties) = ranks(&all);
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let n = n1 + n2;
    let u = r[..x.len()].iter().sum::<f64>() - n1 * (n1 + 1.0) / 2.0;
    let sd = (n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    if sd == 0.0 {
        return Err(StatsError::AllTied);
    }
    let z = (u - n1 * n2 / 2.0) / sd;
    Ok(Pairwise { statistic: u, z, p: normal_two_sided(z), r: z.abs() / n.sqrt() })
}

/// Holm's step-down adjustment of p-values (in the order given).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (i, &at) in order.iter().enumerate() {
        running = running.max(((m - i) as f64 * p[at]).min(1.0));
        adjusted[at] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    /// SciPy 1.x, `binomtest(s, n).proportion_ci(method="wilson")`.
    #[test]
    fn wilson_intervals_match_scipy() {
        for (s, n, lo, hi) in [
            (18, 20, 0.6989663547715128, 0.9721335187862319),
            (0, 10, 0.0, 0.27753279986288926),
            (10, 10, 0.7224672001371109, 1.0),
            (15, 18, 0.6077796189608428, 0.9416342319413856),
        ] {
            let (l, h) = wilson(s, n, Z95).unwrap();
            assert!(close(l, lo) && close(h, hi), "{s}/{n}: {l} {h}");
        }
        assert_eq!(wilson(1, 0, Z95), None);
    }

    /// SciPy 1.x, `friedmanchisquare` (with a tie in two rows).
    #[test]
    fn friedman_matches_scipy_with_ties() {
        let t = vec![
            vec![12.1, 14.3, 13.0],
            vec![10.5, 10.5, 11.2],
            vec![15.0, 17.5, 16.1],
            vec![9.8, 12.0, 12.0],
            vec![11.1, 13.4, 12.2],
            vec![13.3, 15.9, 14.8],
        ];
        let f = friedman(&t).unwrap();
        assert!(close(f.statistic, 8.818181818181813) && close(f.p, 0.012166233516356442), "{f:?}");
        assert!(close(f.effect, 8.818181818181813 / 12.0));
        assert_eq!(friedman(&[vec![1.0, 2.0], vec![1.0]]), Err(StatsError::Ragged(1)));
        assert_eq!(friedman(&[vec![1.0, 1.0], vec![2.0, 2.0]]), Err(StatsError::AllTied));
    }

    /// SciPy 1.x, `kruskal`, `wilcoxon(zero_method="wilcox", correction=False, method="approx")` and
    /// `mannwhitneyu(use_continuity=False, method="asymptotic")`.
    #[test]
    fn kruskal_wallis_signed_rank_and_mann_whitney_match_scipy() {
        let g = vec![vec![3.1, 4.2, 2.8, 5.0, 3.3], vec![4.8, 5.9, 6.1, 4.8, 5.5, 7.0], vec![2.9, 3.1, 3.3, 2.5]];
        let k = kruskal_wallis(&g).unwrap();
        assert!(close(k.statistic, 9.511789347695997) && close(k.p, 0.00860084629776018), "{k:?}");
        assert_eq!(k.df, 2.0);
        let x = [12.1, 10.5, 15.0, 9.8, 11.1, 13.3, 14.0, 10.0, 12.5, 16.2];
        let y = [14.3, 10.5, 17.5, 12.0, 13.4, 15.9, 13.0, 12.2, 14.5, 18.0];
        let w = wilcoxon_signed_rank(&x, &y).unwrap();
        assert!(close(w.statistic, 1.0) && close(w.p, 0.010792782163388177), "{w:?}");
        assert!(close(w.r, w.z.abs() / 3.0), "nine pairs differ");
        let m = mann_whitney(&g[0], &g[1]).unwrap();
        assert!(close(m.statistic, 2.0) && close(m.p, 0.017365464062047378), "{m:?}");
    }

    #[test]
    fn holm_adjusts_step_down_and_keeps_the_order() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.20]);
        let want = [0.04, 0.09, 0.09, 0.2];
        assert!(adjusted.iter().zip(want).all(|(a, w)| close(*a, w)), "{adjusted:?}");
    }

    #[test]
    fn the_bootstrap_interval_holds_the_median_and_is_the_same_each_time() {
        let times: Vec<f64> = (1..=40).map(|i| 20.0 + f64::from(i % 7) * 3.0 + f64::from(i) * 0.1).collect();
        let m = median(&times).unwrap();
        let (lo, hi) = bootstrap_median(&times, 2000, 0.05, 7).unwrap();
        assert!(lo <= m && m <= hi && lo < hi, "{lo} {m} {hi}");
        assert_eq!(bootstrap_median(&times, 2000, 0.05, 7), Some((lo, hi)));
        assert_eq!(bootstrap_median(&[], 10, 0.05, 7), None);
    }
}
