//! How big a `reproduce` run is: `--smoke`, `--quick` or the papers' setting.

use std::path::{Path, PathBuf};

/// The size of a `cargo xtask reproduce` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Every experiment end to end on tiny settings, to prove the pipeline
    /// runs (what CI does first). Its numbers mean nothing; it writes under
    /// `target/repro-smoke/` so it never overwrites a quick or full table.
    Smoke,
    /// Small settings: minutes per experiment.
    Quick,
    /// The papers' settings: hours to days for the training experiments.
    Full,
}

impl Profile {
    /// Whether the experiments use their short settings (smoke or quick).
    /// The fast experiments (`core`, the gradient ones) have no smaller
    /// setting than quick.
    pub fn short(self) -> bool {
        self != Profile::Full
    }

    /// Where the tables, figures and run directories go.
    pub fn out_dir(self) -> &'static Path {
        Path::new(match self {
            Profile::Smoke => "target/repro-smoke",
            Profile::Quick | Profile::Full => "target/repro",
        })
    }

    /// The run directories of training experiment `experiment`.
    pub fn runs_dir(self, experiment: &str) -> PathBuf {
        self.out_dir().join(format!("{experiment}-runs")).join(self.name())
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Quick => "quick",
            Profile::Full => "full",
        }
    }

    /// The command-line flag that selects this profile (empty for full),
    /// with a leading space, for the "Made by `cargo xtask reproduce...`"
    /// lines of the tables.
    pub fn flag(self) -> &'static str {
        match self {
            Profile::Smoke => " --smoke",
            Profile::Quick => " --quick",
            Profile::Full => "",
        }
    }

    /// The sentence that warns a reader of a smoke table.
    pub fn smoke_note(self) -> &'static str {
        match self {
            Profile::Smoke => {
                "**Smoke run**: every run trains for a handful of steps on a few samples to show \
                 the pipeline works end to end; none of its numbers says anything about the models.\n\n"
            }
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Profile;

    #[test]
    fn smoke_writes_apart_from_quick_and_full() {
        assert_ne!(Profile::Smoke.out_dir(), Profile::Quick.out_dir());
        assert_eq!(Profile::Quick.out_dir(), Profile::Full.out_dir());
        assert_ne!(Profile::Quick.runs_dir("mnist"), Profile::Full.runs_dir("mnist"));
        assert!(Profile::Smoke.runs_dir("cnf").starts_with("target/repro-smoke"));
        assert!(Profile::Smoke.short() && Profile::Quick.short() && !Profile::Full.short());
    }
}
