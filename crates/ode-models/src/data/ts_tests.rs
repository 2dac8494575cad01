//! Tests of the `.ts` reader that need proptest or tch (the std-only unit
//! tests live in `ts.rs`, which xtask also compiles).

use std::fmt::Write;
use std::path::Path;

use proptest::prelude::*;
use tch::Kind;

use super::irregular::{drop_observations, observation_counts, DropMode};
use super::ts::{parse_ts, read_ts_split, unit_time_step, TsDataset, TsError};
use super::SeriesTensors;

const PLAIN: &str = "# comment\n@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n\
                     @dimensions 2\n@equalLength false\n@classLabel true a b c\n@data\n\
                     1.5,-2e-1,3:0.5,?,0.1:a\n4,5:NaN,1.5:b\n6,7,8,9:1,2,3:c\n";
const STAMPED: &str = "@problemName T\n@timeStamps true\n@univariate true\n@equalLength true\n\
                       @seriesLength 2\n@classLabel true 1 2\n@data\n\
                       (2007-01-01 00:00:00,241.97),(2007-01-01 00:01:00,?):1\n(0.5,1),(1.5,2e3):2\n";

/// The invariants of any parse result: an error names the file and a line
/// of it; a data set is consistent and pads without panicking.
fn check_outcome(bytes: &[u8], result: Result<TsDataset, TsError>) -> Result<(), TestCaseError> {
    let lines = bytes.split(|&b| b == b'\n').count();
    match result {
        Err(e) => {
            prop_assert_eq!(e.path(), Path::new("p.ts"));
            if let Some(line) = e.line() {
                prop_assert!((1..=lines).contains(&line), "line {} of {}: {}", line, lines, e);
            }
        }
        Ok(d) => {
            prop_assert!(!d.series.is_empty() && d.n_channels > 0);
            for s in &d.series {
                prop_assert!(s.label < d.header.class_labels.len());
                prop_assert_eq!(s.values.len(), d.n_channels);
                prop_assert!(s.values.iter().all(|v| !v.is_empty()));
            }
            let p = d.padded(unit_time_step(&[&d]));
            prop_assert!(p.lengths.iter().all(|&l| (1..=p.t_max).contains(&l)));
            prop_assert!(p.times.iter().all(|t| t.is_finite()));
        }
    }
    Ok(())
}

/// One generated series: label, and per channel the values (None: missing).
type GenSeries = (usize, Vec<Vec<Option<f64>>>);

fn dataset_strategy() -> impl Strategy<Value = (usize, usize, Vec<GenSeries>)> {
    (1usize..4, 1usize..5).prop_flat_map(|(channels, classes)| {
        let value = prop_oneof![1 => Just(None), 6 => (-1e6f64..1e6).prop_map(Some)];
        let channel = prop::collection::vec(value, 1..7);
        let series = (0..classes, prop::collection::vec(channel, channels..=channels));
        (Just(channels), Just(classes), prop::collection::vec(series, 1..8))
    })
}

/// The `.ts` text of a generated data set (missing values as `?` and `NaN`
/// in turn, labels `L0`, `L1`, ...).
fn write_ts(channels: usize, classes: usize, series: &[GenSeries]) -> String {
    let labels: Vec<String> = (0..classes).map(|k| format!("L{k}")).collect();
    let mut s = format!(
        "@problemName gen\n@univariate {}\n@dimensions {channels}\n@equalLength false\n@classLabel true {}\n@data\n",
        channels == 1,
        labels.join(" ")
    );
    let mut missing = 0;
    for (label, chans) in series {
        for ch in chans {
            let vals: Vec<String> = ch
                .iter()
                .map(|v| match v {
                    Some(x) => format!("{x}"),
                    None => {
                        missing += 1;
                        (if missing % 2 == 0 { "?" } else { "NaN" }).to_string()
                    }
                })
                .collect();
            write!(s, "{}:", vals.join(",")).unwrap();
        }
        writeln!(s, "{}", labels[*label]).unwrap();
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn generated_files_round_trip((channels, classes, series) in dataset_strategy()) {
        let text = write_ts(channels, classes, &series);
        let d = parse_ts(Path::new("p.ts"), text.as_bytes()).unwrap();
        prop_assert_eq!(d.n_channels, channels);
        prop_assert_eq!(d.len(), series.len());
        for (got, (label, chans)) in d.series.iter().zip(&series) {
            prop_assert_eq!(got.label, *label);
            for (g, want) in got.values.iter().zip(chans) {
                let want: Vec<f64> = want.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
                prop_assert_eq!(g.len(), want.len());
                for (a, b) in g.iter().zip(&want) {
                    prop_assert!(a == b || (a.is_nan() && b.is_nan()), "{} vs {}", a, b);
                }
            }
        }
        let missing = series.iter().flat_map(|(_, c)| c).flatten().filter(|v| v.is_none()).count();
        let p = d.padded(1.0);
        let real: usize = series.iter().flat_map(|(_, c)| c).map(Vec::len).sum();
        prop_assert_eq!(p.observed_count(), real - missing);
    }

    #[test]
    fn truncated_files_give_ok_or_a_typed_error(base in 0usize..3, cut in any::<prop::sample::Index>()) {
        let text = [PLAIN, STAMPED, &write_ts(2, 3, &[(1, vec![vec![Some(1.0); 4], vec![None, Some(2.5)]])])][base]
            .to_string();
        let bytes = &text.as_bytes()[..cut.index(text.len() + 1)];
        check_outcome(bytes, parse_ts(Path::new("p.ts"), bytes))?;
    }

    #[test]
    fn corrupted_files_give_ok_or_a_typed_error(
        base in 0usize..2,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = [PLAIN, STAMPED][base].as_bytes().to_vec();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        check_outcome(&bytes, parse_ts(Path::new("p.ts"), &bytes))?;
    }
}

#[test]
fn unmodified_bases_parse() {
    for text in [PLAIN, STAMPED] {
        let d = parse_ts(Path::new("p.ts"), text.as_bytes()).unwrap();
        assert!(d.len() >= 2);
    }
}

/// Every prefix of the base files (the proptest above samples them; these
/// files are small enough to try them all).
#[test]
fn every_truncation_gives_ok_or_a_typed_error() {
    let mut outcomes = [0usize; 2];
    for text in [PLAIN, STAMPED] {
        for cut in 0..=text.len() {
            let bytes = &text.as_bytes()[..cut];
            let result = parse_ts(Path::new("p.ts"), bytes);
            outcomes[usize::from(result.is_ok())] += 1;
            check_outcome(bytes, result).unwrap();
        }
    }
    // Cutting inside the last series' values still parses; most cuts do not.
    assert!(outcomes[1] > 0 && outcomes[0] > outcomes[1], "errors/ok: {outcomes:?}");
}

#[test]
fn tensors_have_the_documented_shapes() {
    let d = parse_ts(Path::new("p.ts"), PLAIN.as_bytes()).unwrap();
    let p = d.padded(unit_time_step(&[&d]));
    let t = SeriesTensors::from_padded(&p);
    assert_eq!(t.len(), 3);
    assert_eq!(t.values.size(), [3, 4, 2]);
    assert_eq!(t.observed.size(), [3, 4, 2]);
    assert_eq!(t.times.size(), [3, 4]);
    assert_eq!(
        (t.values.kind(), t.observed.kind(), t.times.kind(), t.lengths.kind(), t.labels.kind()),
        (Kind::Float, Kind::Float, Kind::Double, Kind::Int64, Kind::Int64)
    );
    assert_eq!(Vec::<i64>::try_from(&t.lengths).unwrap(), [3, 2, 4]);
    assert_eq!(Vec::<i64>::try_from(&t.labels).unwrap(), [0, 1, 2]);
    assert_eq!(t.values.double_value(&[0, 1, 0]), -0.2f32 as f64);
    assert_eq!(t.observed.double_value(&[0, 1, 1]), 0.0);
    assert_eq!(t.observed.sum(Kind::Float).double_value(&[]), p.observed_count() as f64);
    assert_eq!(t.times.double_value(&[2, 3]), 1.0);
    assert_eq!(t.times.double_value(&[1, 3]), 1.0 / 3.0);
}

/// The real JapaneseVowels files, when `cargo xtask data` has fetched them
/// (skipped otherwise).
#[test]
fn cached_japanese_vowels() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/cache/JapaneseVowels");
    if !dir.is_dir() {
        eprintln!("JapaneseVowels: not fetched (run `cargo xtask data`); skipped");
        return;
    }
    let t0 = std::time::Instant::now();
    let (train, test) = read_ts_split(&dir, "JapaneseVowels").unwrap();
    eprintln!("JapaneseVowels: read in {:.3} s", t0.elapsed().as_secs_f64());
    assert_eq!((train.len(), test.len()), (270, 370));
    for d in [&train, &test] {
        assert_eq!(d.n_channels, 12);
        assert_eq!(d.class_labels(), ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        assert!(d.series.iter().all(|s| s.values.iter().all(|c| c.len() == s.len())));
        assert!(d.series.iter().flat_map(|s| s.values.iter().flatten()).all(|v| v.is_finite()));
    }
    assert_eq!(train.class_counts(), [30; 9]);
    assert_eq!(test.class_counts(), [31, 35, 88, 44, 29, 24, 40, 50, 29]);
    let (lo, hi) = (
        train.length_range().0.min(test.length_range().0),
        train.length_range().1.max(test.length_range().1),
    );
    assert_eq!((lo, hi), (7, 29));
    eprintln!("JapaneseVowels: lengths train {:?} test {:?}", train.length_range(), test.length_range());

    let step = unit_time_step(&[&train, &test]);
    assert_eq!(step, 1.0 / 28.0);
    let p = train.padded(step);
    for fraction in [0.0, 0.3, 0.5] {
        let out = drop_observations(&p, fraction, DropMode::TimePoints, 2019).unwrap();
        let before: usize = observation_counts(&p, DropMode::TimePoints).iter().sum();
        let after: usize = observation_counts(&out, DropMode::TimePoints).iter().sum();
        let achieved = 1.0 - after as f64 / before as f64;
        eprintln!(
            "JapaneseVowels train, {:.0}% time points dropped: {after} of {before} left ({:.4} dropped), T {}, \
             mean length {:.2}",
            fraction * 100.0,
            achieved,
            out.t_max,
            after as f64 / out.n as f64
        );
        assert!((achieved - fraction).abs() <= 1.0 / before as f64);
        let t = SeriesTensors::from_padded(&out);
        assert_eq!(t.values.size(), [270, out.t_max as i64, 12]);
    }
}
