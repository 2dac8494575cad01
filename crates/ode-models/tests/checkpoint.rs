//! The checkpoint store shared by the trainers: pruning, exact restore, and
//! a clear error for every kind of bad checkpoint.

use std::path::PathBuf;

use ode_models::checkpoint::CheckpointStore;
use ode_models::train::TrainError;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Meta {
    model: String,
    iter: usize,
}

fn run_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ode-models-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn store_with(shape: &[i64], fill: f64) -> nn::VarStore {
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().zeros("w", shape);
    tch::no_grad(|| {
        let _ = w.shallow_clone().fill_(fill);
    });
    vs
}

fn value(vs: &nn::VarStore) -> f64 {
    vs.variables()["w"].mean(Kind::Double).double_value(&[])
}

#[test]
fn keeps_the_newest_and_restores_them_exactly() {
    let dir = run_dir("keep");
    let store = CheckpointStore::new(&dir, "iter", 6);
    for it in 1..=3 {
        let vs = store_with(&[4], it as f64);
        store.save(&vs, it * 100, &Meta { model: "m".into(), iter: it * 100 }, 2).unwrap();
    }
    assert_eq!(store.steps().unwrap(), vec![200, 300]);
    let mut fresh = store_with(&[4], 0.0);
    let meta: Meta = store.load_latest(&mut fresh, "m", |m: &Meta| &m.model).unwrap().unwrap();
    assert_eq!(meta, Meta { model: "m".into(), iter: 300 });
    assert_eq!(value(&fresh), 3.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_run_has_nothing_to_resume() {
    let dir = run_dir("empty");
    let mut vs = store_with(&[2], 1.0);
    let got: Option<Meta> =
        CheckpointStore::new(&dir, "epoch", 4).load_latest(&mut vs, "m", |m: &Meta| &m.model).unwrap();
    assert!(got.is_none());
    assert_eq!(value(&vs), 1.0, "nothing loaded");
}

#[test]
fn bad_checkpoints_are_errors_naming_the_file() {
    let dir = run_dir("bad");
    let store = CheckpointStore::new(&dir, "iter", 8);
    store.save(&store_with(&[3], 1.0), 10, &Meta { model: "m".into(), iter: 10 }, 5).unwrap();
    let load = |vs: &mut nn::VarStore, model: &str| store.load_latest(vs, model, |m: &Meta| &m.model);

    // Another model's checkpoint.
    let err = load(&mut store_with(&[3], 0.0), "other").unwrap_err();
    assert!(
        matches!(&err, TrainError::Checkpoint { path, .. } if path.ends_with("iter-00000010.json")),
        "{err}"
    );

    // A variable of another shape.
    let err = load(&mut store_with(&[5], 0.0), "m").unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");

    // Truncated weights.
    let weights = store.weights_path(10);
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = load(&mut store_with(&[3], 0.0), "m").unwrap_err();
    assert!(matches!(&err, TrainError::Checkpoint { path, .. } if *path == weights), "{err}");

    // A corrupt sidecar.
    std::fs::write(dir.join("checkpoints/iter-00000010.json"), "{ not json").unwrap();
    let err = load(&mut store_with(&[3], 0.0), "m").unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
