//! The training library: a tiny run writes metrics and atomic checkpoints,
//! `resume` continues from the newest one exactly as the uninterrupted run
//! (weights and momentum buffers), and a corrupt checkpoint is a clear error.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use ode_models::image::{Downsampling, ImageClassifier, ResNet};
use ode_models::train::{self, TrainConfig, TrainError};
use tch::{Device, Kind, Tensor};

/// torch's generator is global and the tests of a binary run in parallel:
/// each test holds this while it seeds and draws, so runs are repeatable.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn rng_lock() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ode-models-train-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn data(n: i64) -> (Tensor, Tensor) {
    tch::manual_seed(5);
    (
        Tensor::rand([n, 1, 28, 28], (Kind::Float, Device::Cpu)),
        Tensor::randint(10, [n], (Kind::Int64, Device::Cpu)),
    )
}

/// `epochs` of a run of three: the schedule does not depend on where a run stops.
fn cfg(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        schedule_epochs: Some(3),
        batch_size: 8,
        eval_batch_size: 16,
        progress: false,
        ..TrainConfig::default()
    }
}

fn model() -> ResNet {
    tch::manual_seed(1);
    ResNet::new(Device::Cpu, Downsampling::Conv)
}

#[test]
fn checkpoints_resume_and_corruption() {
    let _rng = rng_lock();
    tch::set_num_threads(1);
    let dir = TempDir::new("resume");
    let (x, y) = data(16);
    let info = serde_json::json!({"test": true});
    let mut m = model();
    let run = train::train(&mut m, (&x, &y), (&x, &y), &cfg(1), &dir.0, false, info.clone()).unwrap();
    assert_eq!(run.epochs.len(), 1);
    assert!(run.finished);
    let ck = dir.0.join("checkpoints");
    assert!(ck.join("epoch-0001.safetensors").exists() && ck.join("epoch-0001.json").exists());
    // No temporary files are left behind.
    assert!(std::fs::read_dir(&ck).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".tmp")));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["epochs"][0]["epoch"], 1);
    assert!(metrics["epochs"][0]["peak_rss_bytes"].as_u64().unwrap() > 0);

    // Resume into a fresh model: weights come back, training continues at epoch 2.
    let mut m2 = model();
    tch::no_grad(|| {
        for v in m2.var_store().trainable_variables() {
            let _ = v.shallow_clone().zero_();
        }
    });
    let run2 = train::train(&mut m2, (&x, &y), (&x, &y), &cfg(3), &dir.0, true, info.clone()).unwrap();
    assert_eq!(run2.resumed_from_epoch, Some(1));
    assert_eq!(run2.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2, 3]);
    // Bitwise the run that was never interrupted (SGD's momentum restored).
    let straight_dir = TempDir::new("straight");
    let mut straight = model();
    train::train(&mut straight, (&x, &y), (&x, &y), &cfg(3), &straight_dir.0, false, info.clone()).unwrap();
    let (va, vb) = (m2.var_store().variables(), straight.var_store().variables());
    assert!(!va.is_empty() && va.iter().all(|(n, t)| t.equal(&vb[n])), "resumed run differs");
    // Only the newest two checkpoints are kept.
    assert!(!ck.join("epoch-0001.json").exists() && ck.join("epoch-0003.json").exists());

    // Resuming with fewer epochs than the checkpoint holds is a configuration error.
    let err =
        train::train(&mut model(), (&x, &y), (&x, &y), &cfg(2), &dir.0, true, info.clone()).unwrap_err();
    assert!(matches!(err, TrainError::Config(_)) && err.to_string().contains("epoch 3"), "{err}");

    // Load the newest checkpoint into a third model: identical predictions.
    let mut m3 = model();
    let meta = train::load_latest_checkpoint(&mut m3, &dir.0).unwrap().unwrap();
    assert_eq!((meta.epoch, meta.step), (3, 6));
    let (a, b) = (m2.predict(&x).unwrap().logits, m3.predict(&x).unwrap().logits);
    assert_eq!(f64::try_from((a - b).abs().max()).unwrap(), 0.0);

    // A truncated safetensors file is a checkpoint error naming it.
    let w = ck.join("epoch-0003.safetensors");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    let err = train::load_latest_checkpoint(&mut model(), &dir.0).unwrap_err();
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("epoch-0003.safetensors"), "{err}");
    let err =
        train::train(&mut model(), (&x, &y), (&x, &y), &cfg(4), &dir.0, true, info.clone()).unwrap_err();
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err}");
    // A corrupt sidecar too.
    std::fs::write(ck.join("epoch-0003.json"), "{\"model\": ").unwrap();
    let err = train::load_latest_checkpoint(&mut model(), &dir.0).unwrap_err();
    assert!(err.to_string().contains("epoch-0003.json"), "{err}");
}

#[test]
fn bad_configuration_and_data_are_errors() {
    let _rng = rng_lock();
    let dir = TempDir::new("bad");
    let (x, y) = data(4);
    let mut m = model();
    let bad = TrainConfig { batch_size: 0, ..cfg(1) };
    let info = serde_json::Value::Null;
    assert!(matches!(
        train::train(&mut m, (&x, &y), (&x, &y), &bad, &dir.0, false, info.clone()),
        Err(TrainError::Config(_))
    ));
    let y3 = y.narrow(0, 0, 3);
    assert!(matches!(
        train::train(&mut m, (&x, &y3), (&x, &y), &cfg(1), &dir.0, false, info),
        Err(TrainError::Config(_))
    ));
}
