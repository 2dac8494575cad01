//! Reading optimizer state back: names, shapes and values are checked
//! before an optimizer takes any of it.

use std::collections::HashMap;

use tch::{Device, Kind, Tensor};

use super::{OptimError, STATE_PREFIX};

/// `optim.<kind>.<field>.<variable>`.
pub(crate) fn state_name(kind: &str, field: &str, var: &str) -> String {
    format!("{STATE_PREFIX}{kind}.{field}.{var}")
}

/// A step count as a 0-d int64 tensor.
pub(crate) fn step_tensor(step: u64) -> Tensor {
    Tensor::scalar_tensor(step as f64, (Kind::Int64, Device::Cpu))
}

/// The state entries of one variable, by field; taken one by one, and
/// whatever is left over is an error.
pub(crate) struct VarEntries<'a> {
    kind: &'static str,
    var: &'a str,
    fields: HashMap<String, &'a Tensor>,
}

/// Splits the optimizer state in `named` per variable of `names` (same
/// order). No entry under [`STATE_PREFIX`] at all is `NoState`; another
/// optimizer's entries are `KindMismatch`; a field not in `fields` or a
/// variable not in `names` is `UnexpectedState`.
pub(crate) fn split<'a>(
    named: &'a HashMap<String, Tensor>,
    kind: &'static str,
    fields: &[&str],
    names: &'a [String],
) -> Result<Vec<VarEntries<'a>>, OptimError> {
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut out: Vec<VarEntries<'a>> =
        names.iter().map(|var| VarEntries { kind, var, fields: HashMap::new() }).collect();
    let mut any = false;
    for (name, t) in named {
        let Some(rest) = name.strip_prefix(STATE_PREFIX) else { continue };
        any = true;
        let (k, rest) = rest.split_once('.').unwrap_or((rest, ""));
        if k != kind {
            return Err(OptimError::KindMismatch { expected: kind, found: k.to_string() });
        }
        let (field, var) = rest.split_once('.').ok_or_else(|| OptimError::UnexpectedState(name.clone()))?;
        match (fields.contains(&field), index.get(var)) {
            (true, Some(&i)) => {
                out[i].fields.insert(field.to_string(), t);
            }
            _ => return Err(OptimError::UnexpectedState(name.clone())),
        }
    }
    if !any {
        return Err(OptimError::NoState);
    }
    Ok(out)
}

impl<'a> VarEntries<'a> {
    fn take(&mut self, field: &str) -> Result<(&'a Tensor, String), OptimError> {
        let name = state_name(self.kind, field, self.var);
        self.fields.remove(field).map(|t| (t, name.clone())).ok_or(OptimError::MissingState(name))
    }

    /// The variable's step count.
    pub fn step(&mut self) -> Result<u64, OptimError> {
        let (t, name) = self.take("step")?;
        if t.kind() != Kind::Int64 || t.dim() != 0 {
            return Err(OptimError::Corrupt {
                name,
                reason: format!("a step count is a 0-d int64, not {:?} {:?}", t.kind(), t.size()),
            });
        }
        let v = t.f_int64_value(&[])?;
        u64::try_from(v).map_err(|_| OptimError::Corrupt { name, reason: format!("negative step {v}") })
    }

    /// A state tensor shaped like `param`, finite, moved to `param`'s
    /// device and dtype, in storage of its own.
    pub fn like(&mut self, field: &str, param: &Tensor) -> Result<Tensor, OptimError> {
        let (t, name) = self.take(field)?;
        if t.size() != param.size() {
            return Err(OptimError::ShapeMismatch { name, expected: param.size(), found: t.size() });
        }
        if !t.is_floating_point() {
            return Err(OptimError::Corrupt {
                name,
                reason: format!("dtype {:?} is not floating", t.kind()),
            });
        }
        let finite = t.f_isfinite()?.f_all()?.f_to_kind(Kind::Int64)?.f_int64_value(&[])?;
        if finite == 0 {
            return Err(OptimError::Corrupt { name, reason: "contains NaN or infinity".into() });
        }
        Ok(t.f_to_device(param.device())?.f_to_kind(param.kind())?.detach().copy())
    }

    /// Fails on any entry not taken.
    pub fn finish(self) -> Result<(), OptimError> {
        match self.fields.keys().next() {
            Some(field) => Err(OptimError::UnexpectedState(state_name(self.kind, field, self.var))),
            None => Ok(()),
        }
    }
}
