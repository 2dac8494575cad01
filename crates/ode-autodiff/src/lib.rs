//! # ode-autodiff (skeleton)
//!
//! Will hold the gradients of an `ode-core` solve: the backsolve adjoint of
//! Chen et al. (2018), the adaptive checkpoint adjoint (ACA) of Zhuang et al.
//! (2020) and MALI, behind one entry point (see `docs/architecture.md`).
//!
//! **Nothing is implemented yet.** This crate exists so the workspace has its
//! final shape; it exports no API, so nothing can be mistaken for working.
