//! ward-store (being built: see ARCHITECTURE.md)
