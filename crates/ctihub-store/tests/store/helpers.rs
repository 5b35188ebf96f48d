pub use ctihub_store::testing::{on_each_backend, on_each_database};
