pub use ctihub_store::testing::on_each_backend;
