//! Generates the LND gRPC client and server from our proto subset.
//!
//! protoc comes from the `protoc-bin-vendored` crate and is handed to
//! prost-build directly (the same effect as setting `PROTOC`, without
//! mutating the build script's environment), so a fresh machine needs no
//! system protoc. The server half is generated here too so the simulator
//! serves exactly the types the client decodes.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Our client connects through its own pinned-TLS connector; the
        // generated `connect(uri)` helper would bypass it.
        .build_transport(false)
        .compile_with_config(
            config,
            &[
                "proto/lightning.proto",
                "proto/router.proto",
                "proto/walletkit.proto",
            ],
            &["proto"],
        )?;
    Ok(())
}
