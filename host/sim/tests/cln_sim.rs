//! Core Lightning over the simulator: the JSON-RPC server's conformance to
//! CLN's protocol and schemas, and the real CLN client against it. One test
//! binary, so the shared support code is built and linked once.

mod cln_sim {
    pub mod conformance;
    pub mod fixture;
    pub mod roundtrip;
    pub mod schema;
}
