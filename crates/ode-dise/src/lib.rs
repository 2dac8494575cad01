//! # ode-dise (skeleton)
//!
//! Will hold the DISE regularizer (sum of DOPRI's error estimates) and the
//! auxiliary network that picks Euler, RK4 or DOPRI per input.
//!
//! **Nothing is implemented yet.**
