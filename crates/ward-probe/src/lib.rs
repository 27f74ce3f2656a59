//! ward-probe (being built: see ARCHITECTURE.md)
