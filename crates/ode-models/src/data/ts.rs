//! The sktime/aeon `.ts` text format for time-series classification
//! (the UEA/UCR archives), read into plain vectors, with errors that name
//! the file and the line.
//!
//! A file is a header of `@key value` lines, then `@data` and one series per
//! line:
//!
//! ```text
//! # comments start with `#` (or `%`, as in aeon's own unit-test files)
//! @problemName Toy
//! @timeStamps false
//! @missing true
//! @univariate false
//! @dimensions 2
//! @equalLength false
//! @classLabel true a b
//! @data
//! 1.0,2.0,3.0:0.5,?,0.1:a
//! 4.0,5.0:NaN,1.5:b
//! ```
//!
//! Each data line holds the dimensions (channels) separated by `:`, each a
//! comma-separated list of values, and ends with the class label, which must
//! be one of the header's `@classLabel true <labels...>` (compared ignoring
//! ASCII case, as aeon lowercases both). `?` and `NaN` mark
//! missing values (kept as `f64::NAN`). With `@timeStamps true` every value
//! is a `(time,value)` pair, the time a number or a date-time
//! `YYYY-MM-DD[ HH:MM[:SS[.fff]]]` (read as seconds since 1970-01-01 UTC).
//!
//! What the header promises is checked: `@dimensions` (or `@univariate
//! true`) fixes the number of dimensions, `@equalLength true` makes every
//! dimension of every series as long as `@seriesLength` (or as the first
//! series). A key left out constrains nothing (the number of dimensions is
//! then fixed by the first series). With `@equalLength false` the dimensions
//! of one series may differ in length (aeon rejects that; the padded form
//! marks the missing tail as unobserved). `@missing` is informational: `?`
//! is accepted whatever it says. Keys are case-insensitive; a key given
//! twice is an error, except `@problemName` (the last one wins: aeon's own
//! `UnitTest_TEST.ts` names its problem twice). Regression files
//! (`@targetLabel true`) and unlabelled files are
//! [`TsError::Unsupported`].
//!
//! This module uses only `std` and `thiserror` (no tch), so that `xtask`
//! includes the same source file with `#[path]` to check the fetched files.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong reading a `.ts` file. Every variant names
/// the file, and the 1-based line when one line is at fault.
#[derive(Debug, thiserror::Error)]
pub enum TsError {
    #[error("{}: file not found", .path.display())]
    Missing { path: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{line}: not UTF-8 text", .path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{}: empty file (no header and no data)", .path.display())]
    Empty { path: PathBuf },
    #[error("{}:{line}: expected a header line `@key value` before `@data`, found `{found}`", .path.display())]
    NotHeader { path: PathBuf, line: usize, found: String },
    #[error(
        "{}:{line}: unknown header key `@{key}` (known: @problemName, @timeStamps, @missing, @univariate, \
         @dimensions, @equalLength, @seriesLength, @classLabel, @targetLabel, @data)",
        .path.display()
    )]
    UnknownKey { path: PathBuf, line: usize, key: String },
    #[error("{}:{line}: `@{key}` {reason}", .path.display())]
    BadHeaderValue { path: PathBuf, line: usize, key: String, reason: String },
    #[error("{}:{line}: `@{key}` given twice (first at line {first})", .path.display())]
    DuplicateKey { path: PathBuf, line: usize, key: String, first: usize },
    #[error("{}: no `@data` line: the file ends inside the header", .path.display())]
    MissingData { path: PathBuf },
    #[error("{}: no `@classLabel true <labels...>` in the header; only classification files are read", .path.display())]
    MissingClassLabels { path: PathBuf },
    #[error("{}:{line}: {what} is not supported", .path.display())]
    Unsupported { path: PathBuf, line: usize, what: String },
    #[error("{}: `@data` is followed by no series", .path.display())]
    NoSeries { path: PathBuf },
    #[error("{}:{line}: no class label: a data line is `values:...:values:label`", .path.display())]
    NoLabel { path: PathBuf, line: usize },
    #[error("{}:{line}: {found} dimensions, expected {expected} ({why})", .path.display())]
    DimensionCount { path: PathBuf, line: usize, found: usize, expected: usize, why: &'static str },
    #[error("{}:{line}: dimension {dim} is empty", .path.display())]
    EmptyDimension { path: PathBuf, line: usize, dim: usize },
    #[error(
        "{}:{line}: dimension {dim}, value {index}: `{token}` is not a finite number, `?` or `NaN`",
        .path.display()
    )]
    BadNumber { path: PathBuf, line: usize, dim: usize, index: usize, token: String },
    #[error("{}:{line}: dimension {dim}: {reason}", .path.display())]
    BadTimestamp { path: PathBuf, line: usize, dim: usize, reason: String },
    #[error("{}:{line}: dimension {dim} has {found} values, expected {expected} ({why})", .path.display())]
    LengthMismatch {
        path: PathBuf,
        line: usize,
        dim: usize,
        found: usize,
        expected: usize,
        why: &'static str,
    },
    #[error("{}:{line}: class label `{label}` is not in the header's list {labels:?}", .path.display())]
    UnknownLabel { path: PathBuf, line: usize, label: String, labels: Vec<String> },
    #[error("{}: {what}; the train and test files of a problem must agree", .path.display())]
    SplitMismatch { path: PathBuf, what: String },
}

impl TsError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            TsError::Missing { path }
            | TsError::Io { path, .. }
            | TsError::NotUtf8 { path, .. }
            | TsError::Empty { path }
            | TsError::NotHeader { path, .. }
            | TsError::UnknownKey { path, .. }
            | TsError::BadHeaderValue { path, .. }
            | TsError::DuplicateKey { path, .. }
            | TsError::MissingData { path }
            | TsError::MissingClassLabels { path }
            | TsError::Unsupported { path, .. }
            | TsError::NoSeries { path }
            | TsError::NoLabel { path, .. }
            | TsError::DimensionCount { path, .. }
            | TsError::EmptyDimension { path, .. }
            | TsError::BadNumber { path, .. }
            | TsError::BadTimestamp { path, .. }
            | TsError::LengthMismatch { path, .. }
            | TsError::UnknownLabel { path, .. }
            | TsError::SplitMismatch { path, .. } => path,
        }
    }

    /// The 1-based line at fault, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            TsError::NotUtf8 { line, .. }
            | TsError::NotHeader { line, .. }
            | TsError::UnknownKey { line, .. }
            | TsError::BadHeaderValue { line, .. }
            | TsError::DuplicateKey { line, .. }
            | TsError::Unsupported { line, .. }
            | TsError::NoLabel { line, .. }
            | TsError::DimensionCount { line, .. }
            | TsError::EmptyDimension { line, .. }
            | TsError::BadNumber { line, .. }
            | TsError::BadTimestamp { line, .. }
            | TsError::LengthMismatch { line, .. }
            | TsError::UnknownLabel { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// What the header says (`None`: the key was not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TsHeader {
    pub problem_name: Option<String>,
    pub timestamps: bool,
    pub missing: Option<bool>,
    pub univariate: Option<bool>,
    pub dimensions: Option<usize>,
    pub equal_length: Option<bool>,
    pub series_length: Option<usize>,
    /// The class names in header order; a series' `label` indexes this list.
    pub class_labels: Vec<String>,
}

/// One labelled series.
#[derive(Clone, Debug, PartialEq)]
pub struct TsSeries {
    /// Per channel, the values in time order; `NaN` where missing.
    pub values: Vec<Vec<f64>>,
    /// Per channel, the time of each value (`@timeStamps true` only).
    pub times: Option<Vec<Vec<f64>>>,
    /// Index into [`TsHeader::class_labels`].
    pub label: usize,
}

impl TsSeries {
    /// The length of the longest channel.
    pub fn len(&self) -> usize {
        self.values.iter().map(Vec::len).max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The time points of the padded form, in increasing order: the value
    /// indices `0, 1, ...` without time stamps, the union of the channels'
    /// time stamps with them.
    fn time_points(&self) -> Vec<f64> {
        match &self.times {
            None => (0..self.len()).map(|k| k as f64).collect(),
            Some(times) => {
                let mut all: Vec<f64> = times.iter().flatten().copied().collect();
                all.sort_by(f64::total_cmp);
                all.dedup();
                all
            }
        }
    }
}

/// A `.ts` classification file: its header and its series.
#[derive(Clone, Debug, PartialEq)]
pub struct TsDataset {
    pub header: TsHeader,
    pub series: Vec<TsSeries>,
    /// The number of dimensions (channels) of every series.
    pub n_channels: usize,
}

/// The padded form of a [`TsDataset`], row-major, ready for tensors: `N`
/// series, `T` (the longest series' number of time points) rows, `C`
/// channels.
#[derive(Clone, Debug, PartialEq)]
pub struct PaddedSeries {
    pub n: usize,
    pub t_max: usize,
    pub n_channels: usize,
    /// `[N, T, C]`; 0 where not observed.
    pub values: Vec<f64>,
    /// `[N, T, C]`; whether the value was observed (false for missing
    /// values and padding).
    pub observed: Vec<bool>,
    /// `[N]`; the number of time points of each series (rows `0..len` are
    /// real, the rest padding).
    pub lengths: Vec<usize>,
    /// `[N]`; class indices.
    pub labels: Vec<usize>,
    /// `[N, T]`; the time of each row. Padding rows repeat the last real
    /// time, so an ODE integrated across them does not move.
    pub times: Vec<f64>,
}

impl TsDataset {
    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The class names (the header's `@classLabel` list).
    pub fn class_labels(&self) -> &[String] {
        &self.header.class_labels
    }

    /// Number of series of each class, in header order.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.header.class_labels.len()];
        for s in &self.series {
            counts[s.label] += 1;
        }
        counts
    }

    /// The shortest and the longest series length ([`TsSeries::len`]).
    pub fn length_range(&self) -> (usize, usize) {
        let lens = self.series.iter().map(TsSeries::len);
        (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0))
    }

    /// The padded form. Row `k` of a series without time stamps is its
    /// `k`-th value, at time `k * time_step`; with time stamps the rows are
    /// the union of the channels' stamps, at time `(stamp - first stamp of
    /// the series) * time_step`. Times are indices (not each series
    /// stretched to `[0, 1]`) because the UEA series are sampled at a fixed
    /// rate: a short utterance is short in time too. Use one step for the
    /// splits of a data set, e.g. [`unit_time_step`] over both.
    pub fn padded(&self, time_step: f64) -> PaddedSeries {
        let (n, c) = (self.series.len(), self.n_channels);
        let points: Vec<Vec<f64>> = self.series.iter().map(TsSeries::time_points).collect();
        let t_max = points.iter().map(Vec::len).max().unwrap_or(0);
        let mut p = PaddedSeries {
            n,
            t_max,
            n_channels: c,
            values: vec![0.0; n * t_max * c],
            observed: vec![false; n * t_max * c],
            lengths: points.iter().map(Vec::len).collect(),
            labels: self.series.iter().map(|s| s.label).collect(),
            times: vec![0.0; n * t_max],
        };
        for (i, (s, pts)) in self.series.iter().zip(&points).enumerate() {
            let origin = pts.first().copied().unwrap_or(0.0);
            let rows = &mut p.times[i * t_max..(i + 1) * t_max];
            for (k, t) in rows.iter_mut().enumerate() {
                *t = (pts[k.min(pts.len().saturating_sub(1))] - origin) * time_step;
            }
            for (ch, vals) in s.values.iter().enumerate() {
                for (j, &v) in vals.iter().enumerate() {
                    let row = match &s.times {
                        None => j,
                        // The stamp is in the union by construction.
                        Some(times) => pts.binary_search_by(|x| x.total_cmp(&times[ch][j])).unwrap_or(0),
                    };
                    if !v.is_nan() {
                        let at = (i * t_max + row) * c + ch;
                        p.values[at] = v;
                        p.observed[at] = true;
                    }
                }
            }
        }
        p
    }
}

impl PaddedSeries {
    /// Number of observed values.
    pub fn observed_count(&self) -> usize {
        self.observed.iter().filter(|&&o| o).count()
    }
}

/// The time step that maps the longest series of all `datasets` onto
/// `[0, 1]` (`1 / (T_max - 1)` without time stamps); 1 when every series has
/// a single time point.
pub fn unit_time_step(datasets: &[&TsDataset]) -> f64 {
    let span = datasets
        .iter()
        .flat_map(|d| &d.series)
        .map(|s| {
            let pts = s.time_points();
            match (pts.first(), pts.last()) {
                (Some(a), Some(b)) => b - a,
                _ => 0.0,
            }
        })
        .fold(0.0, f64::max);
    if span > 0.0 {
        1.0 / span
    } else {
        1.0
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TsError + '_ {
    move |source| {
        if source.kind() == io::ErrorKind::NotFound {
            TsError::Missing { path: path.to_path_buf() }
        } else {
            TsError::Io { path: path.to_path_buf(), source }
        }
    }
}

/// Reads a `.ts` classification file (see [`parse_ts`]).
pub fn read_ts(path: &Path) -> Result<TsDataset, TsError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse_ts(path, &bytes)
}

/// Whether a line (trimmed) carries nothing: blank or a comment.
fn is_blank_or_comment(line: &str) -> bool {
    line.is_empty() || line.starts_with('#') || line.starts_with('%')
}

/// Parses the bytes of a `.ts` classification file; `path` only names the
/// source in errors.
///
/// ```
/// use ode_models::data::ts::parse_ts;
/// use std::path::Path;
///
/// let file = "@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n\
///             @classLabel true up down\n@data\n1,2,3:4,?,6:down\n7,8:9,10:up\n";
/// let d = parse_ts(Path::new("toy.ts"), file.as_bytes())?;
/// assert_eq!((d.len(), d.n_channels), (2, 2));
/// assert_eq!(d.class_labels(), ["up", "down"]);
/// assert_eq!(d.series[0].label, 1);
/// assert_eq!(d.series[0].values[0], [1.0, 2.0, 3.0]);
/// assert!(d.series[0].values[1][1].is_nan());
///
/// // Padded to [N, T, C] = [2, 3, 2], times k / (T_max - 1).
/// let p = d.padded(0.5);
/// assert_eq!((p.n, p.t_max, p.n_channels), (2, 3, 2));
/// assert_eq!(p.lengths, [3, 2]);
/// assert_eq!(p.times, [0.0, 0.5, 1.0, 0.0, 0.5, 0.5]);
/// # Ok::<(), ode_models::data::ts::TsError>(())
/// ```
pub fn parse_ts(path: &Path, bytes: &[u8]) -> Result<TsDataset, TsError> {
    let p = || path.to_path_buf();
    let text = std::str::from_utf8(bytes).map_err(|e| TsError::NotUtf8 {
        path: p(),
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
    })?;
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l.trim()));
    let header = parse_header(path, &mut lines)?;

    let mut series = Vec::new();
    let mut n_channels = header.dimensions.or(if header.univariate == Some(true) { Some(1) } else { None });
    let mut length = if header.equal_length == Some(true) { header.series_length } else { None };
    for (line, l) in lines {
        if is_blank_or_comment(l) {
            continue;
        }
        let (dims, label) =
            if header.timestamps { split_timestamped(path, line, l)? } else { split_plain(path, line, l)? };
        let expected = *n_channels.get_or_insert(dims.len());
        if dims.len() != expected {
            let why = if header.dimensions.is_some() {
                "@dimensions"
            } else if header.univariate == Some(true) {
                "@univariate true"
            } else {
                "as in the first series"
            };
            return Err(TsError::DimensionCount { path: p(), line, found: dims.len(), expected, why });
        }
        if header.equal_length == Some(true) {
            let expected = *length.get_or_insert(dims[0].1.len());
            for (dim, (_, vals)) in dims.iter().enumerate() {
                if vals.len() != expected {
                    let why = if header.series_length.is_some() {
                        "@seriesLength"
                    } else {
                        "@equalLength true, as in the first series"
                    };
                    return Err(TsError::LengthMismatch {
                        path: p(),
                        line,
                        dim,
                        found: vals.len(),
                        expected,
                        why,
                    });
                }
            }
        }
        let label =
            header.class_labels.iter().position(|c| c.eq_ignore_ascii_case(label)).ok_or_else(|| {
                TsError::UnknownLabel {
                    path: p(),
                    line,
                    label: label.to_string(),
                    labels: header.class_labels.clone(),
                }
            })?;
        let (times, values): (Vec<Vec<f64>>, Vec<Vec<f64>>) = dims.into_iter().unzip();
        let times = header.timestamps.then_some(times);
        series.push(TsSeries { values, times, label });
    }
    if series.is_empty() {
        return Err(TsError::NoSeries { path: p() });
    }
    Ok(TsDataset { n_channels: n_channels.unwrap_or(0), header, series })
}

/// Reads the header up to and including `@data`.
fn parse_header<'a>(
    path: &Path,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Result<TsHeader, TsError> {
    let p = || path.to_path_buf();
    let mut h = TsHeader::default();
    // (key, line) of the keys seen, for duplicates.
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut class_label: Option<bool> = None;
    let mut any_line = false;
    for (line, l) in lines.by_ref() {
        if is_blank_or_comment(l) {
            continue;
        }
        any_line = true;
        let Some(rest) = l.strip_prefix('@') else {
            let found: String = l.chars().take(40).collect();
            return Err(TsError::NotHeader { path: p(), line, found });
        };
        let mut tokens = rest.split_whitespace();
        let key = tokens.next().unwrap_or("").to_ascii_lowercase();
        let values: Vec<&str> = tokens.collect();
        let bad = |reason: &str| TsError::BadHeaderValue {
            path: p(),
            line,
            key: key.clone(),
            reason: reason.to_string(),
        };
        let boolean = || match values.as_slice() {
            [v] if v.eq_ignore_ascii_case("true") => Ok(true),
            [v] if v.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(bad("needs one value, `true` or `false`")),
        };
        let positive = || match values.as_slice() {
            [v] => v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| bad("needs a positive integer")),
            _ => Err(bad("needs one value, a positive integer")),
        };
        if key != "problemname" {
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(TsError::DuplicateKey { path: p(), line, key, first: *first });
            }
            seen.push((key.clone(), line));
        }
        match key.as_str() {
            "data" => {
                if !values.is_empty() {
                    return Err(bad("takes no value"));
                }
                return match class_label {
                    Some(true) => Ok(h),
                    Some(false) => Err(TsError::Unsupported {
                        path: p(),
                        line,
                        what: "a file without class labels (`@classLabel false`)".into(),
                    }),
                    None => Err(TsError::MissingClassLabels { path: p() }),
                };
            }
            "problemname" => {
                if values.is_empty() {
                    return Err(bad("needs a name"));
                }
                h.problem_name = Some(values.join(" "));
            }
            "timestamps" => h.timestamps = boolean()?,
            "missing" => h.missing = Some(boolean()?),
            "univariate" => {
                let u = boolean()?;
                if u && h.dimensions.is_some_and(|d| d != 1) {
                    return Err(bad("is true but @dimensions is not 1"));
                }
                h.univariate = Some(u);
            }
            "dimensions" => {
                let d = positive()?;
                if d != 1 && h.univariate == Some(true) {
                    return Err(bad("is not 1 but @univariate is true"));
                }
                h.dimensions = Some(d);
            }
            "equallength" => h.equal_length = Some(boolean()?),
            "serieslength" => h.series_length = Some(positive()?),
            "classlabel" => {
                let Some((&flag, labels)) = values.split_first() else {
                    return Err(bad("needs `true <labels...>` or `false`"));
                };
                if flag.eq_ignore_ascii_case("true") {
                    if labels.is_empty() {
                        return Err(bad("is true but lists no labels"));
                    }
                    for (i, a) in labels.iter().enumerate() {
                        if labels[..i].iter().any(|b| a.eq_ignore_ascii_case(b)) {
                            return Err(bad(&format!("lists the label `{a}` twice")));
                        }
                    }
                    h.class_labels = labels.iter().map(|s| s.to_string()).collect();
                    class_label = Some(true);
                } else if flag.eq_ignore_ascii_case("false") && labels.is_empty() {
                    class_label = Some(false);
                } else {
                    return Err(bad("needs `true <labels...>` or `false`"));
                }
            }
            "targetlabel" => {
                if boolean()? {
                    return Err(TsError::Unsupported {
                        path: p(),
                        line,
                        what: "a regression file (`@targetLabel true`)".into(),
                    });
                }
            }
            _ => return Err(TsError::UnknownKey { path: p(), line, key }),
        }
    }
    Err(if any_line { TsError::MissingData { path: p() } } else { TsError::Empty { path: p() } })
}

/// One dimension of a data line: (times, values); times are the value
/// indices when the file has no time stamps.
type Dim = (Vec<f64>, Vec<f64>);

/// A value token: a finite number, or `?` / `NaN` for a missing value.
fn parse_value(token: &str) -> Option<f64> {
    if token == "?" || token.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    token.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `v,v,...:v,v,...:label`.
fn split_plain<'l>(path: &Path, line: usize, l: &'l str) -> Result<(Vec<Dim>, &'l str), TsError> {
    let Some((dims, label)) = l.rsplit_once(':') else {
        return Err(TsError::NoLabel { path: path.to_path_buf(), line });
    };
    let label = label.trim();
    if label.is_empty() {
        return Err(TsError::NoLabel { path: path.to_path_buf(), line });
    }
    let mut out = Vec::new();
    for (dim, text) in dims.split(':').enumerate() {
        if text.trim().is_empty() {
            return Err(TsError::EmptyDimension { path: path.to_path_buf(), line, dim });
        }
        let mut vals = Vec::new();
        for (index, token) in text.split(',').enumerate() {
            let token = token.trim();
            let v = parse_value(token).ok_or_else(|| TsError::BadNumber {
                path: path.to_path_buf(),
                line,
                dim,
                index,
                token: token.chars().take(40).collect(),
            })?;
            vals.push(v);
        }
        out.push(((0..vals.len()).map(|k| k as f64).collect(), vals));
    }
    Ok((out, label))
}

/// `(t,v),(t,v),...:(t,v),...:label`. Date-times contain `:`, so the line
/// is scanned rather than split.
fn split_timestamped<'l>(path: &Path, line: usize, l: &'l str) -> Result<(Vec<Dim>, &'l str), TsError> {
    let mut out: Vec<Dim> = Vec::new();
    let mut rest = l.trim_start();
    while rest.starts_with('(') {
        let dim = out.len();
        let bad = |reason: String| TsError::BadTimestamp { path: path.to_path_buf(), line, dim, reason };
        let (mut times, mut vals) = (Vec::new(), Vec::new());
        loop {
            // `rest` starts with `(`.
            let close = rest.find(')').ok_or_else(|| bad("`(` without `)`".into()))?;
            let inner = &rest[1..close];
            let (t, v) = inner
                .split_once(',')
                .ok_or_else(|| bad(format!("`({inner})` is not a `(time,value)` pair")))?;
            let t = parse_time(t.trim()).ok_or_else(|| bad(format!("`{}` is not a time stamp", t.trim())))?;
            if times.last().is_some_and(|&last| t <= last) {
                return Err(bad(format!("time stamps do not increase at `{inner}`")));
            }
            let v = v.trim();
            let v = parse_value(v).ok_or_else(|| TsError::BadNumber {
                path: path.to_path_buf(),
                line,
                dim,
                index: vals.len(),
                token: v.chars().take(40).collect(),
            })?;
            times.push(t);
            vals.push(v);
            rest = rest[close + 1..].trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
                if !rest.starts_with('(') {
                    return Err(bad("`,` not followed by `(time,value)`".into()));
                }
            } else if let Some(r) = rest.strip_prefix(':') {
                rest = r.trim_start();
                break;
            } else {
                return Err(bad("expected `,` or `:` after `)`".into()));
            }
        }
        out.push((times, vals));
    }
    let label = rest.trim();
    if label.is_empty() {
        return Err(TsError::NoLabel { path: path.to_path_buf(), line });
    }
    if label.contains(':') || out.is_empty() {
        // `...::label` or a dimension without pairs.
        return Err(TsError::EmptyDimension { path: path.to_path_buf(), line, dim: out.len() });
    }
    Ok((out, label))
}

/// A time stamp: a finite number, or `YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]]` as
/// seconds since 1970-01-01 UTC.
fn parse_time(s: &str) -> Option<f64> {
    if let Some(t) = s.parse::<f64>().ok().filter(|t| t.is_finite()) {
        return Some(t);
    }
    let (date, clock) = match s.split_once([' ', 'T']) {
        Some((d, c)) => (d, Some(c.trim())),
        None => (s, None),
    };
    let mut ymd = date.split('-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: i64 = ymd.next()?.parse().ok()?;
    let day: i64 = ymd.next()?.parse().ok()?;
    // The year bound keeps the day arithmetic far from overflow.
    let plausible = (-1_000_000..=1_000_000).contains(&year);
    if ymd.next().is_some() || !plausible || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = 0.0;
    if let Some(clock) = clock {
        let mut hms = clock.split(':');
        let hour: u32 = hms.next()?.parse().ok()?;
        let minute: u32 = hms.next()?.parse().ok()?;
        let second: f64 = hms.next().map_or(Some(0.0), |s| s.parse().ok())?;
        if hms.next().is_some() || hour > 23 || minute > 59 || !(0.0..61.0).contains(&second) {
            return None;
        }
        seconds = f64::from(hour * 3600 + minute * 60) + second;
    }
    Some(days_from_civil(year, month, day) as f64 * 86_400.0 + seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads `<dir>/<problem>_TRAIN.ts` and `<dir>/<problem>_TEST.ts` (the UEA
/// archive's naming) and checks that they agree on channels and classes.
pub fn read_ts_split(dir: &Path, problem: &str) -> Result<(TsDataset, TsDataset), TsError> {
    let train_path = dir.join(format!("{problem}_TRAIN.ts"));
    let test_path = dir.join(format!("{problem}_TEST.ts"));
    let train = read_ts(&train_path)?;
    let test = read_ts(&test_path)?;
    if test.n_channels != train.n_channels {
        return Err(TsError::SplitMismatch {
            path: test_path,
            what: format!("{} channels, the training file {}", test.n_channels, train.n_channels),
        });
    }
    if test.header.class_labels != train.header.class_labels {
        return Err(TsError::SplitMismatch {
            path: test_path,
            what: format!(
                "class labels {:?}, the training file {:?}",
                test.header.class_labels, train.header.class_labels
            ),
        });
    }
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TsDataset, TsError> {
        parse_ts(Path::new("toy.ts"), text.as_bytes())
    }

    const TOY: &str =
        "# A comment\r\n% an aeon-style comment\r\n\r\n@ProblemName Toy\r\n@TIMESTAMPS false\r\n\
                       @missing true\r\n@univariate false\r\n@dimensions 2\r\n@equalLength false\r\n\
                       @classLabel true a B\r\n@data\r\n1.5,-2e-1,3:0.5,?,0.1:a\r\n\r\n# between series\r\n\
                       4,5:NaN,1.5:b\r\n  6 , 7 , 8 , 9 : 1 , 2 , 3 : B  \r\n";

    #[test]
    fn reads_a_small_multivariate_file() {
        let d = parse(TOY).unwrap();
        assert_eq!(d.header.problem_name.as_deref(), Some("Toy"));
        assert_eq!(d.header.missing, Some(true));
        assert_eq!(d.header.equal_length, Some(false));
        assert_eq!((d.len(), d.n_channels), (3, 2));
        assert_eq!(d.class_labels(), ["a", "B"]);
        // Labels match case-insensitively.
        assert_eq!(d.series.iter().map(|s| s.label).collect::<Vec<_>>(), [0, 1, 1]);
        assert_eq!(d.class_counts(), [1, 2]);
        assert_eq!(d.series[0].values[0], [1.5, -0.2, 3.0]);
        assert!(d.series[0].values[1][1].is_nan() && d.series[1].values[1][0].is_nan());
        // Lengths may differ between the channels of one series.
        assert_eq!(d.series[2].values[0].len(), 4);
        assert_eq!(d.series[2].values[1], [1.0, 2.0, 3.0]);
        assert_eq!(d.series.iter().map(TsSeries::len).collect::<Vec<_>>(), [3, 2, 4]);
        assert_eq!(d.length_range(), (2, 4));
        assert!(d.series.iter().all(|s| s.times.is_none()));
    }

    #[test]
    fn padded_form() {
        let d = parse(TOY).unwrap();
        let step = unit_time_step(&[&d]);
        assert_eq!(step, 1.0 / 3.0);
        let p = d.padded(step);
        assert_eq!((p.n, p.t_max, p.n_channels), (3, 4, 2));
        assert_eq!(p.lengths, [3, 2, 4]);
        assert_eq!(p.labels, [0, 1, 1]);
        // Series 0: rows 0..3, NaN at (row 1, channel 1), padding row 3.
        assert_eq!(&p.values[..8], [1.5, 0.5, -0.2, 0.0, 3.0, 0.1, 0.0, 0.0]);
        assert_eq!(&p.observed[..8], [true, true, true, false, true, true, false, false]);
        // Series 2: channel 1 is one value shorter.
        assert_eq!(&p.observed[16..], [true, true, true, true, true, true, true, false]);
        let third = 1.0 / 3.0;
        assert_eq!(&p.times[..4], [0.0, third, 2.0 * third, 2.0 * third]);
        assert_eq!(&p.times[4..8], [0.0, third, third, third]);
        assert_eq!(&p.times[8..], [0.0, third, 2.0 * third, 1.0]);
        assert_eq!(p.observed_count(), 5 + 3 + 7);
    }

    #[test]
    fn timestamps_numbers_and_dates() {
        let text = "@timeStamps true\n@univariate false\n@classLabel true x y\n@data\n\
                    (0,1),(0.5,2):(0.25,3),(0.5,?):y\n(2, 5) , (3,6):(1,7):x\n";
        let d = parse(text).unwrap();
        assert_eq!(d.series[0].times.as_ref().unwrap(), &[vec![0.0, 0.5], vec![0.25, 0.5]]);
        assert_eq!(d.series[0].values[0], [1.0, 2.0]);
        assert!(d.series[0].values[1][1].is_nan());
        // Rows are the union of the channels' stamps, relative to the first.
        let p = d.padded(1.0);
        assert_eq!((p.t_max, p.lengths.clone()), (3, vec![3, 3]));
        assert_eq!(p.times, [0.0, 0.25, 0.5, 0.0, 1.0, 2.0]);
        assert_eq!(&p.observed[..6], [true, false, false, true, true, false]);
        assert_eq!(&p.values[6..], [0.0, 7.0, 5.0, 0.0, 6.0, 0.0]);
        assert_eq!(unit_time_step(&[&d]), 0.5);

        // aeon's date-time form: seconds since 1970.
        let text = "@timeStamps True\n@classLabel true 1 2\n@data\n\
                    (2007-01-01 00:00:00,241.97),(2007-01-01 00:01:30.5,241.75):1\n";
        let d = parse(text).unwrap();
        assert_eq!(d.series[0].times.as_ref().unwrap()[0], [1_167_609_600.0, 1_167_609_690.5]);
        assert_eq!(d.series[0].values[0], [241.97, 241.75]);
    }

    #[test]
    fn timestamp_errors() {
        let head = "@timeStamps true\n@classLabel true a\n@data\n";
        for (data, what) in [
            ("(1,2),(1,3):a", "do not increase"),
            ("(yesterday,2):a", "not a time stamp"),
            ("(2007-13-01,2):a", "not a time stamp"),
            ("(1,2:a", "without `)`"),
            ("(1),(2,3):a", "not a `(time,value)` pair"),
            ("(1,2) (2,3):a", "expected `,` or `:`"),
            ("(1,2),:a", "not followed by"),
        ] {
            let e = parse(&format!("{head}{data}\n")).unwrap_err();
            assert!(matches!(e, TsError::BadTimestamp { line: 4, dim: 0, .. }), "{data}: {e}");
            assert!(e.to_string().contains(what) && e.to_string().contains("toy.ts:4"), "{data}: {e}");
        }
        assert!(matches!(parse(&format!("{head}(1,x):a\n")), Err(TsError::BadNumber { line: 4, .. })));
        assert!(matches!(parse(&format!("{head}(1,2)::a\n")), Err(TsError::EmptyDimension { dim: 1, .. })));
        assert!(matches!(parse(&format!("{head}(1,2):\n")), Err(TsError::NoLabel { line: 4, .. })));
        assert!(matches!(parse(&format!("{head}a\n")), Err(TsError::EmptyDimension { dim: 0, .. })));
    }

    /// (file, expected error as a predicate, line).
    #[test]
    fn header_errors() {
        type Check = fn(&TsError) -> bool;
        let cases: &[(&str, Check, Option<usize>)] = &[
            ("", |e| matches!(e, TsError::Empty { .. }), None),
            ("# nothing\n\n", |e| matches!(e, TsError::Empty { .. }), None),
            ("@classLabel true a\n", |e| matches!(e, TsError::MissingData { .. }), None),
            ("@problemName x\n@data\n1:a\n", |e| matches!(e, TsError::MissingClassLabels { .. }), None),
            (
                "@problemName x\n@colour red\n",
                |e| matches!(e, TsError::UnknownKey { key, .. } if key == "colour"),
                Some(2),
            ),
            (
                "@classLabel true a\n@missing false\n@MISSING true\n",
                |e| matches!(e, TsError::DuplicateKey { first: 2, .. }),
                Some(3),
            ),
            ("@timeStamps maybe\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@missing\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@dimensions 0\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@seriesLength -3\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@problemName\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@classLabel true a\n@data now\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(2)),
            ("@classLabel true\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@classLabel maybe a\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@classLabel true a b A\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(1)),
            ("@univariate true\n@dimensions 2\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(2)),
            ("@dimensions 3\n@univariate true\n", |e| matches!(e, TsError::BadHeaderValue { .. }), Some(2)),
            ("1,2:a\n", |e| matches!(e, TsError::NotHeader { .. }), Some(1)),
            ("@targetLabel true\n", |e| matches!(e, TsError::Unsupported { .. }), Some(1)),
            ("@classLabel false\n@data\n", |e| matches!(e, TsError::Unsupported { .. }), Some(2)),
        ];
        for (text, check, line) in cases {
            let e = parse(text).unwrap_err();
            assert!(check(&e), "{text:?}: {e}");
            assert_eq!(e.line(), *line, "{text:?}: {e}");
            assert_eq!(e.path(), Path::new("toy.ts"));
            let shown = e.to_string();
            let at = line.map_or("toy.ts".to_string(), |l| format!("toy.ts:{l}:"));
            assert!(shown.starts_with(&at), "{text:?}: {shown}");
        }
        // Repeating @problemName is allowed (aeon's UnitTest_TEST.ts does); the last wins.
        let d =
            parse("@problemName a\n@problemName b c\n@targetLabel false\n@classLabel true 1\n@data\n1:1\n");
        assert_eq!(d.unwrap().header.problem_name.as_deref(), Some("b c"));
    }

    #[test]
    fn data_errors() {
        let head = "@problemName t\n@dimensions 2\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n";
        type Check = fn(&TsError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("1,2,3:a", |e| matches!(e, TsError::DimensionCount { found: 1, expected: 2, .. })),
            ("1,2,3:4,5,6:7,8,9:a", |e| matches!(e, TsError::DimensionCount { found: 3, expected: 2, .. })),
            ("1,2,3:4,5,6:c", |e| matches!(e, TsError::UnknownLabel { label, .. } if label == "c")),
            (
                "1,2,3:4,x,6:a",
                |e| matches!(e, TsError::BadNumber { dim: 1, index: 1, token, .. } if token == "x"),
            ),
            ("1,2,3:4,inf,6:a", |e| matches!(e, TsError::BadNumber { dim: 1, index: 1, .. })),
            ("1,2,3:4,,6:a", |e| matches!(e, TsError::BadNumber { dim: 1, index: 1, .. })),
            ("1,2,3:4,1e999,6:a", |e| matches!(e, TsError::BadNumber { .. })),
            ("1,2,3::a", |e| matches!(e, TsError::EmptyDimension { dim: 1, .. })),
            ("1,2,3", |e| matches!(e, TsError::NoLabel { .. })),
            ("1,2,3:4,5,6:", |e| matches!(e, TsError::NoLabel { .. })),
            ("1,2:4,5:a", |e| matches!(e, TsError::LengthMismatch { dim: 0, found: 2, expected: 3, .. })),
            ("1,2,3:4,5,6,7:a", |e| matches!(e, TsError::LengthMismatch { dim: 1, found: 4, .. })),
        ];
        for (data, check) in cases {
            // The bad line comes after a good one: line 8.
            let e = parse(&format!("{head}1,2,3:4,5,6:b\n{data}\n")).unwrap_err();
            assert!(check(&e), "{data}: {e}");
            assert_eq!(e.line(), Some(8), "{data}: {e}");
            assert!(e.to_string().starts_with("toy.ts:8:"), "{e}");
        }
        assert!(matches!(parse(head), Err(TsError::NoSeries { .. })));
        assert!(matches!(parse(&format!("{head}# only a comment\n")), Err(TsError::NoSeries { .. })));
        // Without @dimensions the first series fixes the number of dimensions.
        let e = parse("@classLabel true a\n@data\n1:2:a\n1:a\n").unwrap_err();
        assert!(matches!(e, TsError::DimensionCount { line: 4, found: 1, expected: 2, .. }), "{e}");
        let e = parse("@univariate true\n@classLabel true a\n@data\n1:2:a\n").unwrap_err();
        assert!(matches!(e, TsError::DimensionCount { found: 2, expected: 1, .. }), "{e}");
        // Equal length without @seriesLength: as the first series.
        let e = parse("@equalLength true\n@classLabel true a\n@data\n1,2:a\n1,2,3:a\n").unwrap_err();
        assert!(matches!(e, TsError::LengthMismatch { line: 5, found: 3, expected: 2, .. }), "{e}");
        // Not UTF-8 on line 3.
        let mut bytes = b"@classLabel true a\n@data\n1,".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b":a\n");
        let e = parse_ts(Path::new("toy.ts"), &bytes).unwrap_err();
        assert!(matches!(e, TsError::NotUtf8 { line: 3, .. }), "{e}");
    }

    #[test]
    fn files_and_splits() {
        let dir = std::env::temp_dir().join(format!("ode-models-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = read_ts(&dir.join("nope.ts")).unwrap_err();
        assert!(matches!(e, TsError::Missing { .. }) && e.to_string().contains("nope.ts"), "{e}");
        std::fs::write(dir.join("P_TRAIN.ts"), TOY).unwrap();
        std::fs::write(dir.join("P_TEST.ts"), TOY.replace("true a B", "true a b c")).unwrap();
        let e = read_ts_split(&dir, "P").unwrap_err();
        assert!(matches!(e, TsError::SplitMismatch { .. }) && e.to_string().contains("P_TEST.ts"), "{e}");
        std::fs::write(dir.join("P_TEST.ts"), TOY).unwrap();
        let (train, test) = read_ts_split(&dir, "P").unwrap();
        // (NaN values make the data sets unequal under `==`.)
        assert_eq!((train.len(), test.len(), train.class_counts()), (3, 3, vec![1, 2]));
        std::fs::remove_dir_all(&dir).ok();
    }
}
