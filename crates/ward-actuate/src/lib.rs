//! ward-actuate (being built: see ARCHITECTURE.md)
