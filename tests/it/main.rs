//! Integration tests: the server runs in-process on an ephemeral port with a temporary data
//! directory; requests are signed by aws-sigv4's own signer, independent of our verifier.

mod auth;
mod buckets;
mod events;
mod harness;
mod limits;
mod listing;
mod multipart;
mod objects;
mod recovery;
mod rust_sdk;
mod streaming;
