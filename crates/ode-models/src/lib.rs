//! # ode-models (skeleton)
//!
//! Will hold the tch (libtorch) models of the Neural ODE paper: ODE-Net with
//! ResNet and RK-Net baselines, Latent ODE with RNN baselines, and continuous
//! normalizing flows with a planar-flow baseline.
//!
//! **Nothing is implemented yet**, and this crate does not depend on tch yet,
//! so building the workspace needs no libtorch.
