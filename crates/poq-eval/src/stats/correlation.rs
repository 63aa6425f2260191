//! Pearson, Spearman and Kendall tau-b with scipy's p-values.

use super::{check_pair, constant};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Which correlation coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Linear correlation.
    Pearson,
    /// Pearson on average ranks.
    Spearman,
    /// Kendall's tau-b (ties corrected).
    KendallTauB,
}

impl Method {
    /// All three, in report order.
    pub const ALL: [Method; 3] = [Method::Pearson, Method::Spearman, Method::KendallTauB];

    /// The coefficient and its two-sided p-value.
    pub fn test(self, x: &[f64], y: &[f64]) -> Result<CorrelationTest> {
        match self {
            Method::Pearson => pearson(x, y),
            Method::Spearman => spearman(x, y),
            Method::KendallTauB => kendall_tau_b(x, y),
        }
    }

    /// Only the coefficient (skips the p-value; used inside the bootstrap).
    pub(crate) fn estimate(self, x: &[f64], y: &[f64]) -> Result<f64> {
        match self {
            Method::Pearson => pearson_r(x, y),
            Method::Spearman => pearson_r(&average_ranks(x), &average_ranks(y)),
            Method::KendallTauB => kendall_counts(x, y).map(|k| k.tau),
        }
    }
}

/// A coefficient with its two-sided p-value (`None` below 3 points, where scipy's is degenerate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorrelationTest {
    /// The coefficient in [-1, 1].
    pub estimate: f64,
    /// Two-sided p-value for "no association".
    pub p_value: Option<f64>,
}

fn pearson_r(x: &[f64], y: &[f64]) -> Result<f64> {
    check_pair(x, y)?;
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err(constant("x"));
    }
    if syy == 0.0 {
        return Err(constant("y"));
    }
    // One square root of the product keeps perfect correlations at exactly ±1 (as scipy reports them).
    let denom = match (sxx * syy).sqrt() {
        d if d.is_finite() && d > 0.0 => d,
        _ => sxx.sqrt() * syy.sqrt(),
    };
    Ok((sxy / denom).clamp(-1.0, 1.0))
}

/// Two-sided p-value of a correlation through Student's t with n − 2 degrees of freedom.
fn t_p_value(r: f64, n: usize) -> Option<f64> {
    if n < 3 {
        return None;
    }
    let df = (n - 2) as f64;
    if r.abs() >= 1.0 {
        return Some(0.0);
    }
    let t = r * (df / ((1.0 + r) * (1.0 - r))).sqrt();
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(2.0 * dist.sf(t.abs()))
}

/// Pearson's r with scipy's p-value (`pearsonr`).
pub fn pearson(x: &[f64], y: &[f64]) -> Result<CorrelationTest> {
    let r = pearson_r(x, y)?;
    Ok(CorrelationTest { estimate: r, p_value: t_p_value(r, x.len()) })
}

/// Spearman's rho (Pearson on average ranks) with scipy's p-value (`spearmanr`).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<CorrelationTest> {
    check_pair(x, y)?;
    let r = pearson_r(&average_ranks(x), &average_ranks(y))?;
    Ok(CorrelationTest { estimate: r, p_value: t_p_value(r, x.len()) })
}

/// 1-based ranks; tied values share the mean of their ranks (scipy's `rankdata(method="average")`).
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Tie statistics of one series, as scipy's `count_rank_tie`: Σt(t−1)/2, Σt(t−1)(t−2), Σt(t−1)(2t+5).
fn tie_stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let (mut pairs, mut a, mut b) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < s.len() {
        let mut j = i + 1;
        while j < s.len() && s[j] == s[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        if t > 1.0 {
            pairs += t * (t - 1.0) / 2.0;
            a += t * (t - 1.0) * (t - 2.0);
            b += t * (t - 1.0) * (2.0 * t + 5.0);
        }
        i = j;
    }
    (pairs, a, b)
}

struct KendallCounts {
    tau: f64,
    con_minus_dis: f64,
    x_ties: (f64, f64, f64),
    y_ties: (f64, f64, f64),
}

fn kendall_counts(x: &[f64], y: &[f64]) -> Result<KendallCounts> {
    check_pair(x, y)?;
    let n = x.len();
    // O(n²) is fine for the few hundred prompts of a run; signs make ties count as neither.
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            let dx = (x[i] - x[j]).partial_cmp(&0.0).map_or(0, |o| o as i64);
            let dy = (y[i] - y[j]).partial_cmp(&0.0).map_or(0, |o| o as i64);
            s += dx * dy;
        }
    }
    let total = (n * (n - 1) / 2) as f64;
    let (xt, yt) = (tie_stats(x), tie_stats(y));
    if xt.0 == total {
        return Err(constant("x"));
    }
    if yt.0 == total {
        return Err(constant("y"));
    }
    let cmd = s as f64;
    let tau = (cmd / (total - xt.0).sqrt() / (total - yt.0).sqrt()).clamp(-1.0, 1.0);
    Ok(KendallCounts { tau, con_minus_dis: cmd, x_ties: xt, y_ties: yt })
}

/// Kendall's tau-b with scipy's asymptotic p-value (`kendalltau(variant="b", method="asymptotic")`).
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<CorrelationTest> {
    let k = kendall_counts(x, y)?;
    let n = x.len() as f64;
    let p_value = (x.len() >= 3).then(|| {
        let m = n * (n - 1.0);
        let ((xtie, x0, x1), (ytie, y0, y1)) = (k.x_ties, k.y_ties);
        let var = (m * (2.0 * n + 5.0) - x1 - y1) / 18.0 + (2.0 * xtie * ytie) / m + x0 * y0 / (9.0 * m * (n - 2.0));
        let z = k.con_minus_dis / var.sqrt();
        2.0 * Normal::standard().sf(z.abs())
    });
    Ok(CorrelationTest { estimate: k.tau, p_value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(average_ranks(&[10.0, 20.0, 10.0, 30.0]), [1.5, 3.0, 1.5, 4.0]);
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        let e = pearson(&[1.0, 2.0], &[1.0]).unwrap_err().to_string();
        assert!(e.contains("length mismatch"), "{e}");
        assert!(spearman(&[1.0], &[1.0]).unwrap_err().to_string().contains("at least 2"));
        assert!(kendall_tau_b(&[1.0, f64::NAN], &[1.0, 2.0]).unwrap_err().to_string().contains("index 1"));
        for m in Method::ALL {
            let e = m.test(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]).unwrap_err().to_string();
            assert!(e.contains("`y`") && e.contains("equal"), "{m:?}: {e}");
        }
    }

    #[test]
    fn two_points_have_no_p_value() {
        let t = pearson(&[1.0, 2.0], &[3.0, 5.0]).unwrap();
        assert_eq!((t.estimate, t.p_value), (1.0, None));
    }
}
