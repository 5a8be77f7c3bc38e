//! The control plane inside the data-plane crate (until the sluice-control crate takes
//! it): hot reload through `Control`, the admin API and dashboard, `/status`.

pub mod admin;
pub mod reload;
pub mod status;

pub use reload::{Control, ReloadStatus};
