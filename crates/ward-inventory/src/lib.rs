//! ward-inventory
