//! Property tests of the mechanism's math: monotone rewards, bounded and order-free aggregation,
//! robustness of median and trimmed mean, and normalizers that stay in [0, 1].
#![allow(clippy::unwrap_used)]

use poq_core::{
    Aggregator, Consensus, Linear, Mean, Median, Normalization, Power, QualityPerCost, RewardRule, Score, TrimmedMean,
    YumaConsensus, normalize_costs, normalize_rewards,
};
use proptest::prelude::*;

fn unit() -> impl Strategy<Value = f64> {
    0.0..=1.0f64
}

fn scores(max_len: usize) -> impl Strategy<Value = Vec<Score>> {
    prop::collection::vec((0.0..=10.0f64).prop_map(|v| Score::new(v).unwrap()), 1..max_len)
}

fn range(s: &[Score]) -> (f64, f64) {
    let lo = s.iter().map(|x| x.value()).fold(f64::INFINITY, f64::min);
    let hi = s.iter().map(|x| x.value()).fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn rules() -> Vec<Box<dyn RewardRule>> {
    vec![
        Box::new(Linear::new(1.0, 0.5).unwrap()),
        Box::new(Linear::new(2.0, 0.0).unwrap()),
        Box::new(QualityPerCost::new(0.05).unwrap()),
        Box::new(Power::new(2.0, 1.5).unwrap()),
        Box::new(Power::new(0.5, 0.0).unwrap()),
    ]
}

fn aggregators() -> Vec<Box<dyn Aggregator>> {
    vec![
        Box::new(Mean),
        Box::new(Median),
        Box::new(TrimmedMean::new(0.2).unwrap()),
        Box::new(YumaConsensus::new(0.5).unwrap()),
        Box::new(YumaConsensus::new(0.9).unwrap()),
        Box::new(Consensus::TrimmedMean { fraction: 0.34 }),
    ]
}

proptest! {
    #[test]
    fn rewards_rise_with_quality_and_fall_with_cost(q1 in unit(), q2 in unit(), c1 in unit(), c2 in unit()) {
        let (qlo, qhi) = (q1.min(q2), q1.max(q2));
        let (clo, chi) = (c1.min(c2), c1.max(c2));
        for rule in rules() {
            prop_assert!(rule.reward(qhi, c1) >= rule.reward(qlo, c1), "{} not monotone in q", rule.name());
            prop_assert!(rule.reward(q1, clo) >= rule.reward(q1, chi), "{} not monotone in c", rule.name());
            prop_assert!(rule.reward(q1, c1).is_finite());
        }
    }

    #[test]
    fn aggregators_are_bounded_and_order_free(
        s in scores(12),
        w in prop::collection::vec(0.01..5.0f64, 12),
        rot in 0usize..12,
    ) {
        let w = &w[..s.len()];
        let (lo, hi) = range(&s);
        let mut pairs: Vec<(Score, f64)> = s.iter().copied().zip(w.iter().copied()).collect();
        pairs.rotate_left(rot % s.len());
        pairs.reverse();
        let (s2, w2): (Vec<Score>, Vec<f64>) = pairs.into_iter().unzip();
        for agg in aggregators() {
            let runs = [
                (agg.aggregate(&s, None), agg.aggregate(&s2, None)),
                (agg.aggregate(&s, Some(w)), agg.aggregate(&s2, Some(&w2))),
            ];
            for (a, b) in runs {
                let (a, b) = (a.unwrap().value(), b.unwrap().value());
                prop_assert!(a >= lo - 1e-9 && a <= hi + 1e-9, "{} gave {a} outside [{lo}, {hi}]", agg.name());
                prop_assert!((a - b).abs() < 1e-9, "{} depends on order: {a} vs {b}", agg.name());
            }
        }
    }

    /// Fewer than half the scores set to anything: the median stays within the honest range.
    #[test]
    fn median_resists_a_minority(honest in scores(10), bad in prop::collection::vec(0.0..=10.0f64, 0..10)) {
        // Strictly fewer corrupt scores than honest ones.
        let m = bad.len().min(honest.len() - 1);
        let mut all = honest.clone();
        all.extend(bad[..m].iter().map(|&v| Score::new(v).unwrap()));
        let (lo, hi) = range(&honest);
        let med = Median.aggregate(&all, None).unwrap().value();
        prop_assert!(med >= lo - 1e-9 && med <= hi + 1e-9, "median {med} outside honest [{lo}, {hi}]");
    }

    /// At most ⌊f·n⌋ scores set to anything: the trimmed mean stays within the honest range.
    #[test]
    fn trimmed_mean_resists_the_trimmed_fraction(
        honest in scores(16),
        bad in prop::collection::vec(0.0..=10.0f64, 16),
        f in 0.05..0.49f64,
    ) {
        // The largest number m of corrupt scores with m <= ⌊f·(h + m)⌋.
        let h = honest.len();
        let m = (0..=bad.len()).rev().find(|&m| m <= (f * (h + m) as f64).floor() as usize).unwrap_or(0);
        let mut all = honest.clone();
        all.extend(bad[..m].iter().map(|&v| Score::new(v).unwrap()));
        let (lo, hi) = range(&honest);
        let t = TrimmedMean::new(f).unwrap().aggregate(&all, None).unwrap().value();
        prop_assert!(t >= lo - 1e-9 && t <= hi + 1e-9, "trimmed mean {t} outside honest [{lo}, {hi}] with {m} corrupt");
    }

    #[test]
    fn normalizers_map_into_unit_interval(costs in prop::collection::vec(0.0..1e9f64, 0..20)) {
        for how in [Normalization::MinMax, Normalization::DivideByMax, Normalization::LogMinMax] {
            let n = normalize_costs(&costs, how).unwrap();
            prop_assert_eq!(n.len(), costs.len());
            prop_assert!(n.iter().all(|c| (0.0..=1.0).contains(c)), "{how:?}: {n:?}");
            // Order is kept: a costlier node never gets a smaller normalized cost.
            for i in 0..costs.len() {
                for j in 0..costs.len() {
                    if costs[i] < costs[j] {
                        prop_assert!(n[i] <= n[j]);
                    }
                }
            }
        }
    }

    #[test]
    fn normalized_rewards_span_the_unit_interval(r in prop::collection::vec(-10.0..10.0f64, 2..20)) {
        let n = normalize_rewards(&r).unwrap();
        prop_assert!(n.iter().all(|x| (0.0..=1.0).contains(x)));
        if r.iter().any(|&x| x != r[0]) {
            prop_assert!(n.contains(&1.0) && n.contains(&0.0));
        }
    }
}
