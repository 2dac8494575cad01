//! Classification metrics on plain numbers: accuracy and the macro average
//! of one-vs-rest ROC AUCs.

/// Fraction of `predicted[i] == labels[i]`; `None` for no samples or
/// slices of different lengths.
pub fn accuracy(predicted: &[usize], labels: &[usize]) -> Option<f64> {
    if labels.is_empty() || predicted.len() != labels.len() {
        return None;
    }
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    Some(right as f64 / labels.len() as f64)
}

/// ROC AUC of `scores` for the samples where `positive` is true against the
/// others: the Mann-Whitney statistic, `(R_pos - n_pos (n_pos + 1) / 2) /
/// (n_pos n_neg)` with `R_pos` the sum of the positives' ranks among all
/// scores, tied scores getting the average of their ranks (so a tie
/// between a positive and a negative counts one half). `None` without a
/// positive or a negative, for a NaN score, or for slices of different
/// lengths.
pub fn one_vs_rest_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 (1-based) shared by the tied group.
        let avg_rank = (i + j + 2) as f64 / 2.0;
        rank_sum_pos += avg_rank * order[i..=j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// Mean over classes of the one-vs-rest AUC of `probs[i][c]` (sample `i`'s
/// score for class `c`), over the classes present and absent in `labels`
/// (a class without a positive or a negative has no AUC and is left out).
/// `None` when no class has one or a row has the wrong length.
pub fn macro_auc(probs: &[Vec<f64>], labels: &[usize], classes: usize) -> Option<f64> {
    if probs.len() != labels.len() || probs.iter().any(|p| p.len() != classes) {
        return None;
    }
    let aucs: Vec<f64> = (0..classes)
        .filter_map(|c| {
            let scores: Vec<f64> = probs.iter().map(|p| p[c]).collect();
            let positive: Vec<bool> = labels.iter().map(|&l| l == c).collect();
            one_vs_rest_auc(&scores, &positive)
        })
        .collect();
    if aucs.is_empty() {
        None
    } else {
        Some(aucs.iter().sum::<f64>() / aucs.len() as f64)
    }
}
