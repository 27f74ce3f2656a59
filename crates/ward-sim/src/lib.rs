//! ward-sim
